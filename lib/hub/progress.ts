/**
 * Download progress on stderr: a redrawn bar with bytes, rate and ETA on a terminal, and a plain line per
 * 10 % (and at the end) otherwise.
 *
 * @module
 */

/** Receives progress updates. */
export interface ProgressSink {
  /** Called as bytes arrive; `total` is null when unknown. */
  update(done: number, total: number | null): void;
  /** Called once when the file is complete. */
  finish(done: number): void;
}

/**
 * Human-readable byte count.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./progress.ts";
 * if (formatBytes(1536) !== "1.5 KB" || formatBytes(153_000_000) !== "153.0 MB") throw new Error();
 * ```
 * @param n Bytes.
 * @returns E.g. `153.0 MB`.
 */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/**
 * A progress sink that writes to stderr.
 *
 * @param label What is downloading, e.g. `immich-app/RN50__openai/visual/model.onnx`.
 * @param start Bytes already present (a resumed download).
 * @returns The sink.
 */
export function stderrProgress(label: string, start = 0): ProgressSink {
  const tty = Deno.stderr.isTerminal();
  const t0 = performance.now();
  let lastDecile = -1;
  const enc = new TextEncoder();
  const write = (s: string) => Deno.stderr.writeSync(enc.encode(s));
  const line = (done: number, total: number | null) => {
    const secs = (performance.now() - t0) / 1000;
    const rate = secs > 0 ? (done - start) / secs : 0;
    const eta = total && rate > 0 ? Math.max(0, (total - done) / rate) : null;
    const pct = total ? ` ${((100 * done) / total).toFixed(0).padStart(3)}%` : "";
    const bar = total && tty ? ` [${"#".repeat(Math.round((20 * done) / total)).padEnd(20, ".")}]` : "";
    return `${label}${bar}${pct} ${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ""}, ${
      formatBytes(rate)
    }/s${eta !== null ? `, ETA ${eta.toFixed(0)} s` : ""}`;
  };
  return {
    update(done, total) {
      if (tty) write(`\r${line(done, total)}\x1b[K`);
      else if (total) {
        const decile = Math.floor((10 * done) / total);
        if (decile > lastDecile && decile < 10) {
          lastDecile = decile;
          write(`${line(done, total)}\n`);
        }
      }
    },
    finish(done) {
      write(`${tty ? "\r" : ""}${line(done, done)}, done${tty ? "\x1b[K" : ""}\n`);
    },
  };
}
