import { concatBytes } from "../bytes.ts";

/**
 * A minimal reader of the protobuf wire format, enough to walk an ONNX ModelProto without a schema compiler:
 * ModelProto.graph (field 7) → GraphProto.initializer (5) → TensorProto.dims (1) and data_type (2).
 *
 * @module
 */

/** One field of a protobuf message. */
export interface ProtoField {
  /** Field number. */
  field: number;
  /** Wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32. */
  wire: number;
  /** Varint or fixed value (as a number; exact below 2^53). */
  value?: number;
  /** Bytes of a length-delimited field. */
  bytes?: Uint8Array;
  /** The whole encoded field (key and payload), for re-emitting it unchanged. */
  raw?: Uint8Array;
}

function varint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new RangeError("Truncated protobuf varint");
    const b = buf[pos++]!;
    result += (b & 0x7f) * mul;
    if (b < 0x80) return [result, pos];
    mul *= 128;
    if (mul > 2 ** 70) throw new RangeError("Protobuf varint too long");
  }
}

/**
 * The fields of one protobuf message, in order.
 *
 * @example
 * ```ts
 * import { readFields } from "./proto.ts";
 * // field 1 varint 150, field 2 bytes "hi"
 * const f = readFields(new Uint8Array([0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69]));
 * if (f[0]!.value !== 150 || new TextDecoder().decode(f[1]!.bytes) !== "hi") throw new Error();
 * ```
 * @param buf The message bytes.
 * @returns The fields.
 */
export function readFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [key, p1] = varint(buf, pos);
    pos = p1;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const [v, p2] = varint(buf, pos);
      out.push({ field, wire, value: v });
      pos = p2;
    } else if (wire === 2) {
      const [len, p2] = varint(buf, pos);
      if (p2 + len > buf.length) throw new RangeError("Truncated protobuf message");
      out.push({ field, wire, bytes: buf.subarray(p2, p2 + len) });
      pos = p2 + len;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > buf.length) throw new RangeError("Truncated protobuf fixed field");
      out.push({ field, wire, bytes: buf.subarray(pos, pos + n) });
      pos += n;
    } else {
      throw new RangeError(`Unsupported protobuf wire type ${wire}`);
    }
    out[out.length - 1]!.raw = buf.subarray(start, pos);
  }
  return out;
}

function encodeVarint(v: number): number[] {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`Cannot encode ${v} as a protobuf varint`);
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** A field to encode: a varint, bytes, a string or a nested message. */
export type OutField = { field: number; varint: number } | { field: number; bytes: Uint8Array } | ProtoField;

/**
 * Encodes fields back into a protobuf message; fields read by {@linkcode readFields} are re-emitted byte for byte.
 *
 * @example
 * ```ts
 * import { encodeFields, readFields } from "./proto.ts";
 * const msg = encodeFields([{ field: 1, varint: 150 }, { field: 2, bytes: new TextEncoder().encode("hi") }]);
 * if (msg.join() !== "8,150,1,18,2,104,105") throw new Error(msg.join());
 * if (encodeFields(readFields(msg)).join() !== msg.join()) throw new Error();
 * ```
 * @param fields The fields.
 * @returns The message bytes.
 */
export function encodeFields(fields: readonly OutField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    if ("raw" in f && f.raw) parts.push(f.raw);
    else if ("varint" in f) parts.push(new Uint8Array([...encodeVarint(f.field * 8), ...encodeVarint(f.varint)]));
    else if (f.bytes) {
      parts.push(new Uint8Array([...encodeVarint(f.field * 8 + 2), ...encodeVarint(f.bytes.length)]), f.bytes);
    } else throw new TypeError(`Field ${f.field} has nothing to encode`);
  }
  return concatBytes(parts);
}

/** UTF-8 bytes of a string, for string fields. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Decodes a packed repeated varint field. */
export function packedVarints(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const [v, p] = varint(bytes, pos);
    out.push(v);
    pos = p;
  }
  return out;
}

/** An initializer's name, element type and shape. */
export interface InitializerInfo {
  /** Tensor name. */
  name: string;
  /** ONNX TensorProto.DataType (1 float, 10 float16, 7 int64, ...). */
  dataType: number;
  /** Dims. */
  dims: number[];
  /** Element count. */
  elements: number;
}

/**
 * Lists the initializers of an ONNX model's main graph (external data is described in the proto too, so it is
 * counted without reading the data files).
 *
 * @param model The `.onnx` bytes.
 * @returns The initializers.
 */
export function onnxInitializers(model: Uint8Array): InitializerInfo[] {
  const graph = readFields(model).find((f) => f.field === 7 && f.wire === 2)?.bytes;
  if (!graph) throw new SyntaxError("Not an ONNX model: no graph");
  const out: InitializerInfo[] = [];
  for (const f of readFields(graph)) {
    if (f.field !== 5 || !f.bytes) continue;
    let dims: number[] = [];
    let dataType = 0;
    let name = "";
    for (const t of readFields(f.bytes)) {
      if (t.field === 1) dims = t.wire === 2 ? dims.concat(packedVarints(t.bytes!)) : dims.concat([t.value!]);
      else if (t.field === 2) dataType = t.value!;
      else if (t.field === 8 && t.bytes) name = new TextDecoder().decode(t.bytes);
    }
    out.push({ name, dataType, dims, elements: dims.reduce((a, b) => a * b, 1) });
  }
  return out;
}

/**
 * How many nodes of each op type the main graph has (for instance `Erf` betrays exact GELU).
 *
 * @param model The `.onnx` bytes.
 * @returns Counts by op type.
 */
export function onnxOpCounts(model: Uint8Array): Record<string, number> {
  const graph = readFields(model).find((f) => f.field === 7 && f.wire === 2)?.bytes;
  if (!graph) throw new SyntaxError("Not an ONNX model: no graph");
  const out: Record<string, number> = {};
  for (const f of readFields(graph)) {
    if (f.field !== 1 || !f.bytes) continue;
    const op = new TextDecoder().decode(readFields(f.bytes).find((g) => g.field === 4)?.bytes);
    out[op] = (out[op] ?? 0) + 1;
  }
  return out;
}
