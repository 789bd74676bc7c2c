/**
 * NumPy `.npy` files (format version 1.0): little-endian float32 (`<f4`) or float16 (`<f2`), C order.
 *
 * @module
 */

/** Element types we read and write. */
export type NpyDtype = "<f4" | "<f2";

/**
 * Encodes an array as `.npy` bytes.
 *
 * @example
 * ```ts
 * import { decodeNpy, encodeNpy } from "./npy.ts";
 * const bytes = encodeNpy(new Float32Array([1, 2, 3, 4]), "<f4", [2, 2]);
 * const back = decodeNpy(bytes);
 * if (back.shape.join() !== "2,2" || back.data[3] !== 4) throw new Error();
 * ```
 * @param data float32 values, or float16 values (a Float16Array or its Uint16Array bits) for `<f2`.
 * @param dtype `<f4` or `<f2`.
 * @param shape The shape; its product must equal the element count.
 * @returns The file's bytes.
 */
export function encodeNpy(
  data: Float32Array | Float16Array | Uint16Array,
  dtype: NpyDtype,
  shape: number[],
): Uint8Array<ArrayBuffer> {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`Shape [${shape}] holds ${count} elements, data has ${data.length}`);
  const itemsize = dtype === "<f4" ? 4 : 2;
  if ((dtype === "<f4") !== (data instanceof Float32Array)) throw new TypeError(`Data does not match dtype ${dtype}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + count * itemsize);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/**
 * Decodes `.npy` bytes written by {@linkcode encodeNpy} (or NumPy, for `<f4`/`<f2` C-order arrays).
 *
 * @param bytes The file's bytes.
 * @returns The shape, dtype and values (float16 values widened to float32).
 */
export function decodeNpy(bytes: Uint8Array): { shape: number[]; dtype: NpyDtype; data: Float32Array } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new SyntaxError("Not a .npy file");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  const hlen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  if (descr !== "<f4" && descr !== "<f2") throw new SyntaxError(`Unsupported .npy dtype ${descr}`);
  if (/'fortran_order':\s*True/.test(header)) throw new SyntaxError("Fortran-order .npy files are not supported");
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean).map(
    Number,
  );
  const body = bytes.slice(start + hlen);
  const want = shape.reduce((a, b) => a * b, 1) * (descr === "<f4" ? 4 : 2);
  if (body.length !== want) {
    throw new SyntaxError(`.npy data holds ${body.length} bytes, its shape (${shape.join(", ")}) needs ${want}`);
  }
  const data = descr === "<f4" ? new Float32Array(body.buffer) : Float32Array.from(new Float16Array(body.buffer));
  return { shape, dtype: descr, data };
}
