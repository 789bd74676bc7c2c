/**
 * A strict reader of the safetensors format (the one the hub's canonical weights use):
 * - 8 bytes: the header length N, unsigned 64-bit little-endian;
 * - N bytes: a JSON object `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {...} }`,
 *   possibly padded with spaces;
 * - the data, where each tensor's offsets are relative to the end of the header.
 *
 * Checked, each as a one-line error naming the file: the header length (at most 100 MB, inside the file), the
 * JSON, each entry's dtype and shape, `end - begin == numel × size`, offsets that cover the data exactly once
 * (sorted, contiguous, no holes or overlaps, the last end at the end of the file). Tensors at misaligned offsets
 * are copied out, so every view is properly aligned.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";

/** The dtypes read. */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I64";

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I64: 8 };

/** The longest header accepted (the format's own reference implementation uses the same limit). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a safetensors file. */
export interface SafeTensor {
  /** The name, e.g. `layer1.0.conv1.weight`. */
  name: string;
  /** The stored dtype. */
  dtype: SafetensorsDtype;
  /** The shape (empty for a 0-rank tensor). */
  shape: number[];
  /** The raw little-endian bytes. */
  bytes: Uint8Array;
}

/** A parsed safetensors file. */
export interface Safetensors {
  /** Where it was read from, for messages. */
  path: string;
  /** Tensors by name. */
  tensors: Map<string, SafeTensor>;
  /** The `__metadata__` strings, if any. */
  metadata: Record<string, string>;
}

/** Number of elements of a shape (1 for a 0-rank tensor). */
export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Parses a safetensors file held in memory.
 *
 * @example
 * ```ts
 * import { parseSafetensors, toFloat32 } from "./safetensors.ts";
 * const header = new TextEncoder().encode(JSON.stringify({ w: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }));
 * const file = new Uint8Array(8 + header.length + 8);
 * new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
 * file.set(header, 8);
 * new DataView(file.buffer).setFloat32(8 + header.length + 4, 1.5, true);
 * const st = parseSafetensors(file, "w.safetensors");
 * if (toFloat32(st.tensors.get("w")!)[1] !== 1.5) throw new Error();
 * ```
 * @param file The whole file.
 * @param path The file's path, for messages.
 * @returns The tensors.
 */
export function parseSafetensors(file: Uint8Array, path: string): Safetensors {
  const bad = (why: string) => new ClipcmpError(`"${path}" is not a valid safetensors file: ${why}`);
  if (file.length < 8) throw bad(`${file.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw bad(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  const headerLen = Number(n);
  if (8 + headerLen > file.length) {
    throw bad(`header length ${headerLen} runs past the end of the file (${file.length} bytes; truncated?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(file.subarray(8, 8 + headerLen)));
  } catch (err) {
    throw bad(`the header is not JSON (${err instanceof Error ? err.message.split("\n")[0] : err})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) throw bad("the header is not a JSON object");
  const dataStart = 8 + headerLen;
  const dataLen = file.length - dataStart;
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw !== null && (typeof raw !== "object" || Array.isArray(raw))) throw bad("__metadata__ is not an object");
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== "object") throw bad(`tensor "${name}" has no description`);
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) {
      throw bad(`tensor "${name}" has dtype ${JSON.stringify(e.dtype)}; supported are F32, F16, BF16 and I64`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`tensor "${name}" has shape ${JSON.stringify(e.shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`tensor "${name}" has data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const shape = e.shape as number[];
    const want = numel(shape) * DTYPE_BYTES[dtype];
    if (end < begin || end - begin !== want) {
      throw bad(`tensor "${name}" (${dtype} [${shape.join(",")}]) spans ${end - begin} bytes, expected ${want}`);
    }
    entries.push({ name, dtype, shape, begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of entries) {
    if (e.begin < at) throw bad(`tensor "${e.name}" overlaps the tensor before it (offset ${e.begin} < ${at})`);
    if (e.begin > at) throw bad(`a hole of ${e.begin - at} bytes before tensor "${e.name}"`);
    at = e.end;
  }
  if (at !== dataLen) {
    const cut = entries.find((e) => e.end > dataLen);
    throw bad(
      at > dataLen
        ? `tensor "${cut!.name}" runs past the end of the data (${cut!.end} > ${dataLen} bytes); the file is truncated`
        : `${dataLen - at} bytes after the last tensor`,
    );
  }
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) {
    const size = DTYPE_BYTES[e.dtype];
    let bytes = file.subarray(dataStart + e.begin, dataStart + e.end);
    if ((file.byteOffset + dataStart + e.begin) % size !== 0) bytes = bytes.slice(); // a copy is aligned
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, bytes });
  }
  return { path, tensors, metadata };
}

/**
 * Reads and parses a safetensors file.
 *
 * @param path The file.
 * @returns The tensors.
 */
export async function readSafetensors(path: string): Promise<Safetensors> {
  let file: Uint8Array;
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) throw new ClipcmpError(`Cannot read "${path}": not a regular file`);
    file = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof ClipcmpError) throw err;
    if (err instanceof Deno.errors.NotFound) throw new ClipcmpError(`Cannot read "${path}": file not found`);
    throw new ClipcmpError(`Cannot read "${path}": ${err instanceof Error ? err.message.split("\n")[0] : err}`);
  }
  return parseSafetensors(file, path);
}

function bf16ToF32(bytes: Uint8Array): Float32Array {
  const src = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
  return new Float32Array(out.buffer);
}

/**
 * A floating-point tensor's values as float32 (F16 and BF16 are widened exactly).
 *
 * @param t The tensor.
 * @returns The values (a view for F32, a new array otherwise).
 */
export function toFloat32(t: SafeTensor): Float32Array {
  switch (t.dtype) {
    case "F32":
      return new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4);
    case "F16":
      return Float32Array.from(new Float16Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 2));
    case "BF16":
      return bf16ToF32(t.bytes);
    default:
      throw new ClipcmpError(`Tensor "${t.name}" is ${t.dtype}, not a floating-point tensor`);
  }
}
