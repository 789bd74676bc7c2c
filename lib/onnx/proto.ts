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
  }
  return out;
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
