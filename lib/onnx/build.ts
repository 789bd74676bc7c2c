/**
 * Writing ONNX models from TypeScript: a small graph builder over the protobuf wire format, enough for the
 * graphs clipcmp builds from published weights (float32 and integer initializers, nodes with int, float,
 * ints, floats and string attributes, inputs and outputs with symbolic dims).
 *
 * Field numbers are those of `onnx.proto` (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto). Negative integers are encoded as ten-byte two's-complement varints, as protobuf does.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";

/** ONNX TensorProto element types used here. */
export const ElemType = { float32: 1, int32: 6, int64: 7, float16: 10 } as const;

/** An element type name. */
export type ElemName = keyof typeof ElemType;

/** A node attribute: an int, `{ f }` for a float, an int list, `{ floats }`, or a string. */
export type Attr = number | { f: number } | number[] | { floats: number[] } | string;

const enc = new TextEncoder();

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/** Accumulates one protobuf message. */
class Msg {
  private parts: Uint8Array[] = [];
  int(field: number, v: number | bigint): this {
    this.parts.push(new Uint8Array([...varint(field * 8), ...varint(v)]));
    return this;
  }
  bytes(field: number, b: Uint8Array): this {
    this.parts.push(new Uint8Array([...varint(field * 8 + 2), ...varint(b.length)]), b);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, enc.encode(s));
  }
  f32(field: number, v: number): this {
    const key = varint(field * 8 + 5);
    const out = new Uint8Array(key.length + 4);
    out.set(key);
    new DataView(out.buffer).setFloat32(key.length, v, true);
    this.parts.push(out);
    return this;
  }
  done(): Uint8Array {
    return concatBytes(this.parts);
  }
}

function packedInts(values: readonly number[]): Uint8Array {
  return new Uint8Array(values.flatMap((v) => varint(v)));
}

function packedFloats(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function attribute(name: string, a: Attr): Uint8Array {
  const m = new Msg().str(1, name);
  if (typeof a === "number") m.int(3, a).int(20, 2);
  else if (typeof a === "string") m.str(4, a).int(20, 3);
  else if (Array.isArray(a)) m.bytes(8, packedInts(a)).int(20, 7);
  else if ("f" in a) m.f32(2, a.f).int(20, 1);
  else m.bytes(7, packedFloats(a.floats)).int(20, 6);
  return m.done();
}

function valueInfo(name: string, type: ElemName, dims: readonly (number | string)[]): Uint8Array {
  const shape = new Msg();
  for (const d of dims) {
    shape.bytes(1, typeof d === "number" ? new Msg().int(1, d).done() : new Msg().str(2, d).done());
  }
  const tensor = new Msg().int(1, ElemType[type]).bytes(2, shape.done()).done();
  return new Msg().str(1, name).bytes(2, new Msg().bytes(1, tensor).done()).done();
}

/** Typed data of an initializer. */
export type InitData = Float32Array | Int32Array | BigInt64Array | Float16Array;

function elemOf(data: InitData): ElemName {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof BigInt64Array) return "int64";
  return "float16";
}

/**
 * Builds one ONNX graph and serialises it as a ModelProto.
 *
 * @example
 * ```ts
 * import { OnnxGraph } from "./build.ts";
 * const g = new OnnxGraph("double");
 * g.input("x", "float32", ["batch", 3]);
 * const two = g.init("two", [1], new Float32Array([2]));
 * g.node("Mul", ["x", two], ["y"]);
 * g.output("y", "float32", ["batch", 3]);
 * const bytes = g.toBytes();
 * if (bytes.length < 20) throw new Error();
 * ```
 */
export class OnnxGraph {
  private nodes: Uint8Array[] = [];
  private inits: Uint8Array[] = [];
  private inputs: Uint8Array[] = [];
  private outputs: Uint8Array[] = [];
  private names = new Set<string>();
  private counter = 0;
  /** Initializer elements written, by name (for tests and counts). */
  readonly initShapes: Map<string, number[]> = new Map();

  /** @param name The graph's name. */
  constructor(readonly name: string) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    let n: string;
    do n = `${prefix}_${this.counter++}`; while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  /** Declares a graph input. */
  input(name: string, type: ElemName, dims: readonly (number | string)[]): string {
    this.names.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Declares a graph output (the value must be produced by a node). */
  output(name: string, type: ElemName, dims: readonly (number | string)[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /**
   * Adds an initializer.
   *
   * @param name Its name (made unique if taken).
   * @param dims Its shape.
   * @param data Its values (the element type follows the array type).
   * @returns The name used.
   */
  init(name: string, dims: readonly number[], data: InitData): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new RangeError(`initializer ${name}: ${data.length} values for shape [${dims}]`);
    const unique = this.names.has(name) ? this.fresh(name) : name;
    this.names.add(unique);
    const m = new Msg();
    for (const d of dims) m.int(1, d);
    m.int(2, ElemType[elemOf(data)]).str(8, unique);
    m.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    this.inits.push(m.done());
    this.initShapes.set(unique, [...dims]);
    return unique;
  }

  /** An int64 initializer (shapes, axes, indices). */
  ints(name: string, values: readonly number[]): string {
    return this.init(name, [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /**
   * Adds a node.
   *
   * @param op The op type.
   * @param inputs Input value names ("" for an omitted optional input).
   * @param outputs Output names, or how many fresh outputs to create.
   * @param attrs Attributes.
   * @returns The output names.
   */
  node(
    op: string,
    inputs: readonly string[],
    outputs: readonly string[] | number = 1,
    attrs: Record<string, Attr> = {},
  ): string[] {
    const outs = typeof outputs === "number"
      ? Array.from({ length: outputs }, () => this.fresh(op.toLowerCase()))
      : [...outputs];
    for (const o of outs) this.names.add(o);
    const m = new Msg();
    for (const i of inputs) m.str(1, i);
    for (const o of outs) m.str(2, o);
    m.str(3, this.fresh(`n_${op}`)).str(4, op);
    for (const [k, a] of Object.entries(attrs)) m.bytes(5, attribute(k, a));
    this.nodes.push(m.done());
    return outs;
  }

  /** One-output shorthand for {@linkcode node}. */
  op(op: string, inputs: readonly string[], attrs: Record<string, Attr> = {}, output?: string): string {
    return this.node(op, inputs, output ? [output] : 1, attrs)[0]!;
  }

  /**
   * The ModelProto bytes.
   *
   * @param opset The default-domain opset (17 has LayerNormalization).
   * @param metadata `metadata_props` entries (provenance).
   * @returns The serialised model.
   */
  toBytes(opset = 17, metadata: Record<string, string> = {}): Uint8Array {
    const g = new Msg();
    for (const n of this.nodes) g.bytes(1, n);
    g.str(2, this.name);
    for (const t of this.inits) g.bytes(5, t);
    for (const i of this.inputs) g.bytes(11, i);
    for (const o of this.outputs) g.bytes(12, o);
    const m = new Msg().int(1, 8).str(2, "clipcmp").str(3, "1");
    m.bytes(7, g.done());
    m.bytes(8, new Msg().str(1, "").int(2, opset).done());
    for (const [k, v] of Object.entries(metadata)) m.bytes(14, new Msg().str(1, k).str(2, v).done());
    return m.done();
  }
}
