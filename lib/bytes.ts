/**
 * Byte-array helpers.
 *
 * @module
 */

/**
 * Concatenates byte arrays.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * if (concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])]).join() !== "1,2,3") throw new Error();
 * ```
 * @param parts The arrays.
 * @returns One array holding them in order.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
