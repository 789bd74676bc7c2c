/**
 * One progress line for a long step: count, rate and ETA, as `eval` prints them.
 *
 * @module
 */

/**
 * Formats `what: done/total unit, R unit/s, about S s left`.
 *
 * @example
 * ```ts
 * import { progressLine } from "./progress_line.ts";
 * const line = progressLine("scored", 64, 130, "images", 8);
 * if (line !== "scored 64/130 images, 8.0 images/s, about 9 s left") throw new Error(line);
 * ```
 * @param what What is being done, e.g. `scored`.
 * @param done How many are done.
 * @param total How many in all.
 * @param unit The unit, e.g. `images`.
 * @param seconds Seconds since the step started.
 * @returns The line.
 */
export function progressLine(what: string, done: number, total: number, unit: string, seconds: number): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const left = done >= total ? "done" : rate > 0 ? `about ${formatSeconds((total - done) / rate)} left` : "";
  const r = rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
  return `${what} ${done}/${total} ${unit}, ${r} ${unit}/s${left ? `, ${left}` : ""}`;
}

/** `9 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatSeconds(s: number): string {
  const t = Math.ceil(s);
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min ${String(t % 60).padStart(2, "0")} s`;
  return `${Math.floor(t / 3600)} h ${String(Math.floor((t % 3600) / 60)).padStart(2, "0")} min`;
}

/**
 * A progress callback for a zero-shot head build (`done` of `total` classes) that logs a {@linkcode progressLine}
 * at most every `everyMs`, and always the last one; small heads (under 50 classes) stay quiet.
 *
 * @param log Where lines go.
 * @param everyMs The least time between lines.
 * @returns The callback.
 */
export function headProgress(log: (line: string) => void, everyMs = 5000): (done: number, total: number) => void {
  const t0 = performance.now();
  let shown = -Infinity;
  return (done, total) => {
    if (total < 50) return;
    const now = performance.now();
    if (now - shown < everyMs && done < total) return;
    shown = now;
    log(`  ${progressLine("text features:", done, total, "classes", (now - t0) / 1000)}`);
  };
}
