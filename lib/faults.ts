/**
 * Fault injection for the reliability tests, through one environment variable, `CLIPCMP_FAULTS`, a
 * comma-separated list: `no-adapter` (WebGPU finds no adapter), `no-f16` (the adapter lacks shader-f16),
 * `lose-device-after=N` (the GPU device is lost after N images), `stall-at=POINT` (the task says
 * `stalled at POINT` on stderr and waits there forever, so a test can kill it at exactly that moment). Tasks may
 * read only this variable for it; without the permission or the variable nothing is injected.
 *
 * @module
 */

/**
 * The value of an injected fault: `""` for a flag, the text after `=` for a setting, undefined when absent.
 *
 * @example
 * ```ts
 * import { fault } from "./faults.ts";
 * if (fault("nonexistent-fault") !== undefined) throw new Error();
 * ```
 * @param name The fault.
 * @returns Its value.
 */
export function fault(name: string): string | undefined {
  let raw: string | undefined;
  try {
    raw = Deno.env.get("CLIPCMP_FAULTS");
  } catch {
    return undefined;
  }
  for (const item of (raw ?? "").split(",")) {
    const [k, v] = item.trim().split("=");
    if (k === name) return v ?? "";
  }
  return undefined;
}

/**
 * A kill point: with `CLIPCMP_FAULTS=stall-at=<point>` the task announces it on stderr and never goes on, so a
 * test can kill it there; otherwise it returns at once.
 *
 * @param point The point's name, e.g. `fp16-between-towers`.
 */
export async function stallPoint(point: string): Promise<void> {
  if (fault("stall-at") !== point) return;
  console.error(`stalled at ${point}`);
  // A test kills the task here; should it fail first, the task still ends on its own after 10 minutes.
  await new Promise(() => setTimeout(() => Deno.exit(99), 600_000));
}
