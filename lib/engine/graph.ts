/**
 * An ONNX model as the WGSL engine reads it: the main graph's nodes with decoded attributes, its initializers as
 * numbers, and its inputs and outputs with their element types and (possibly symbolic) dims. Integers are decoded
 * exactly (negative int64 varints included), float16 data is widened, and external data must already be inlined
 * (`readOnnx` does that).
 *
 * @example
 * ```ts
 * import { OnnxGraph } from "../onnx/build.ts";
 * import { parseGraph } from "./graph.ts";
 * const g = new OnnxGraph("g");
 * g.input("x", "float32", ["batch", 3]);
 * g.op("Add", ["x", g.init("one", [1], new Float32Array([1]))], {}, "y");
 * g.output("y", "float32", ["batch", 3]);
 * const parsed = parseGraph(g.toBytes());
 * if (parsed.nodes[0]!.op !== "Add" || parsed.inits.get("one")!.data[0] !== 1) throw new Error();
 * if (parsed.inputs[0]!.dims.join() !== "batch,3") throw new Error();
 * ```
 *
 * @module
 */
import { type ProtoField, readFields } from "../onnx/proto.ts";

/** ONNX TensorProto data types the engine knows. */
export const ONNX_TYPES: Readonly<Record<number, string>> = {
  1: "float32",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
};

/** A constant tensor: an initializer, a Constant's value or a value folded at load. Data as numbers. */
export interface ConstTensor {
  /** ONNX element type name (`float32`, `int64`, ...). */
  type: string;
  /** Dims. */
  dims: number[];
  /** Values, row-major. */
  data: Float64Array;
}

/** An attribute value. */
export type AttrValue = number | number[] | string | ConstTensor;

/** One node. */
export interface GraphNode {
  /** The node's name, or `op#index` when unnamed. */
  name: string;
  /** Op type. */
  op: string;
  /** Domain ("" for the default). */
  domain: string;
  /** Input names ("" for an omitted optional input). */
  inputs: string[];
  /** Output names. */
  outputs: string[];
  /** Attributes by name. */
  attrs: Record<string, AttrValue>;
}

/** A graph input or output. */
export interface GraphValue {
  name: string;
  /** ONNX element type name. */
  type: string;
  /** Dims: numbers, or names for symbolic dims. */
  dims: (number | string)[];
}

/** The parsed main graph. */
export interface ParsedGraph {
  nodes: GraphNode[];
  inits: Map<string, ConstTensor>;
  inputs: GraphValue[];
  outputs: GraphValue[];
  /** The default domain's opset. */
  opset: number;
}

const dec = new TextDecoder();
const text = (b?: Uint8Array) => (b ? dec.decode(b) : "");

/** Decodes varints exactly, as signed int64 (two's complement). */
function signedVarints(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let v = 0n, shift = 0n;
    for (;;) {
      if (pos >= bytes.length) throw new RangeError("Truncated protobuf varint");
      const b = bytes[pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if (b < 0x80) break;
    }
    out.push(Number(BigInt.asIntN(64, v)));
  }
  return out;
}

/** A varint field's exact signed value, from its raw bytes (key then value). */
function signedValue(f: ProtoField): number {
  const raw = f.raw!;
  let pos = 0;
  while (raw[pos]! >= 0x80) pos++;
  return signedVarints(raw.subarray(pos + 1))[0]!;
}

function aligned(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

/**
 * Decodes a TensorProto.
 *
 * @param bytes The message.
 * @returns The tensor and its name.
 */
export function parseTensor(bytes: Uint8Array): ConstTensor & { name: string } {
  const fields = readFields(bytes);
  const dims: number[] = [];
  let type = 0, name = "";
  let raw: Uint8Array | undefined;
  const floats: number[] = [], ints: number[] = [], doubles: number[] = [];
  for (const f of fields) {
    if (f.field === 1) dims.push(...(f.wire === 2 ? signedVarints(f.bytes!) : [signedValue(f)]));
    else if (f.field === 2) type = f.value!;
    else if (f.field === 8) name = text(f.bytes);
    else if (f.field === 9) raw = f.bytes;
    else if (f.field === 4) {
      floats.push(...new Float32Array(aligned(f.bytes!))); // packed or one fixed32: little-endian floats either way
    } else if (f.field === 5 || f.field === 7) {
      ints.push(...(f.wire === 2 ? signedVarints(f.bytes!) : [signedValue(f)]));
    } else if (f.field === 10) doubles.push(...new Float64Array(aligned(f.bytes!)));
    else if (f.field === 14 && f.value === 1) {
      throw new RangeError(`tensor "${name || "?"}" keeps its data in an external file; inline it first`);
    }
  }
  const typeName = ONNX_TYPES[type];
  if (!typeName) throw new RangeError(`tensor "${name}" has element type ${type}, which the engine does not read`);
  const count = dims.reduce((a, b) => a * b, 1);
  let data: Float64Array;
  if (raw) {
    const buf = aligned(raw);
    const view = {
      float32: () => new Float32Array(buf),
      float16: () => new Float16Array(buf),
      int32: () => new Int32Array(buf),
      int64: () => Array.from(new BigInt64Array(buf), Number),
      bool: () => new Uint8Array(buf),
      float64: () => new Float64Array(buf),
    }[typeName]!();
    data = Float64Array.from(view as ArrayLike<number>);
  } else if (typeName === "float16") {
    // float16 without raw_data sits in int32_data as bit patterns.
    const bits = Uint16Array.from(ints);
    data = Float64Array.from(new Float16Array(bits.buffer));
  } else {
    data = Float64Array.from(floats.length ? floats : doubles.length ? doubles : ints);
  }
  if (data.length !== count) {
    throw new RangeError(`tensor "${name}" holds ${data.length} values for shape [${dims}]`);
  }
  return { name, type: typeName, dims, data };
}

function parseAttr(bytes: Uint8Array): [string, AttrValue] {
  const fields = readFields(bytes);
  const name = text(fields.find((f) => f.field === 1)?.bytes);
  const type = fields.find((f) => f.field === 20)?.value;
  const get = (n: number) => fields.filter((f) => f.field === n);
  const float = (f: ProtoField) => new DataView(aligned(f.bytes!)).getFloat32(0, true);
  switch (type) {
    case 1:
      return [name, float(get(2)[0]!)];
    case 2:
      return [name, signedValue(get(3)[0]!)];
    case 3:
      return [name, text(get(4)[0]?.bytes)];
    case 4:
      return [name, parseTensor(get(5)[0]!.bytes!)];
    case 6:
      return [name, get(7).flatMap((f) => (f.wire === 2 ? [...new Float32Array(aligned(f.bytes!))] : [float(f)]))];
    case 7:
      return [name, get(8).flatMap((f) => (f.wire === 2 ? signedVarints(f.bytes!) : [signedValue(f)]))];
    default:
      return [name, `<unsupported attribute type ${type}>`];
  }
}

function parseValue(bytes: Uint8Array): GraphValue {
  const fields = readFields(bytes);
  const name = text(fields.find((f) => f.field === 1)?.bytes);
  const typeProto = fields.find((f) => f.field === 2)?.bytes;
  const tensor = typeProto && readFields(typeProto).find((f) => f.field === 1)?.bytes;
  let type = "unknown";
  const dims: (number | string)[] = [];
  if (tensor) {
    for (const f of readFields(tensor)) {
      if (f.field === 1) type = ONNX_TYPES[f.value!] ?? `type ${f.value}`;
      if (f.field === 2 && f.bytes) {
        for (const d of readFields(f.bytes)) {
          if (d.field !== 1 || !d.bytes) continue;
          const dim = readFields(d.bytes);
          const v = dim.find((x) => x.field === 1), p = dim.find((x) => x.field === 2);
          dims.push(v ? signedValue(v) : p ? text(p.bytes) : "?");
        }
      }
    }
  }
  return { name, type, dims };
}

/**
 * Parses an ONNX model's main graph.
 *
 * @param model The `.onnx` bytes, external data inlined.
 * @returns The graph.
 */
export function parseGraph(model: Uint8Array): ParsedGraph {
  const top = readFields(model);
  const graph = top.find((f) => f.field === 7 && f.wire === 2)?.bytes;
  if (!graph) throw new SyntaxError("Not an ONNX model: no graph");
  let opset = 0;
  for (const f of top) {
    if (f.field !== 8 || !f.bytes) continue;
    const o = readFields(f.bytes);
    if (text(o.find((x) => x.field === 1)?.bytes) === "") opset = o.find((x) => x.field === 2)?.value ?? 0;
  }
  const nodes: GraphNode[] = [];
  const inits = new Map<string, ConstTensor>();
  const inputs: GraphValue[] = [], outputs: GraphValue[] = [];
  for (const f of readFields(graph)) {
    if (!f.bytes) continue;
    if (f.field === 1) {
      const n = readFields(f.bytes);
      const op = text(n.find((x) => x.field === 4)?.bytes);
      nodes.push({
        name: text(n.find((x) => x.field === 3)?.bytes) || `${op}#${nodes.length}`,
        op,
        domain: text(n.find((x) => x.field === 7)?.bytes),
        inputs: n.filter((x) => x.field === 1).map((x) => text(x.bytes)),
        outputs: n.filter((x) => x.field === 2).map((x) => text(x.bytes)),
        attrs: Object.fromEntries(n.filter((x) => x.field === 5).map((x) => parseAttr(x.bytes!))),
      });
    } else if (f.field === 5) {
      const t = parseTensor(f.bytes);
      inits.set(t.name, { type: t.type, dims: t.dims, data: t.data });
    } else if (f.field === 11) inputs.push(parseValue(f.bytes));
    else if (f.field === 12) outputs.push(parseValue(f.bytes));
  }
  // Inputs that are also initializers (older exporters list them) are constants, not feeds.
  return { nodes, inits, inputs: inputs.filter((i) => !inits.has(i.name)), outputs, opset };
}
