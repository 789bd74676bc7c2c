/**
 * Fault injection for the reliability tests, through one environment variable, `CLIPCMP_FAULTS`, a
 * comma-separated list: `no-adapter` (WebGPU finds no adapter), `no-f16` (the adapter lacks shader-f16),
 * `lose-device-after=N` (the GPU device is lost after N images). Tasks may read only this variable for it;
 * without the permission or the variable nothing is injected.
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
