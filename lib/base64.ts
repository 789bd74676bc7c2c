/**
 * Base64 for embedding bytes in HTML data URIs.
 *
 * @module
 */

/**
 * Encodes bytes as base64.
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * if (encodeBase64(new TextEncoder().encode("hi!")) !== "aGkh") throw new Error();
 * ```
 * @param bytes The bytes.
 * @returns Base64 text.
 */
export function encodeBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
