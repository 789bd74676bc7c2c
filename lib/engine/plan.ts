/**
 * Planning one ONNX graph for one set of input dims: every node becomes a GPU dispatch, a view of another
 * tensor (Reshape, Transpose, Slice, Split, Expand, Squeeze: no copy), or a constant evaluated at load (shape
 * arithmetic). On the way:
 * - convolutions read and write NHWC; the few ops that need NCHW (a Reshape, a Concat) get a copy, and
 *   elementwise ops work in whichever layout their inputs are in;
 * - Conv absorbs a following BatchNormalization; Conv, Gemm and MatMul absorb a bias Add, a residual Add and a
 *   ReLU, QuickGELU or GELU into their epilogue;
 * - weights are repacked once into the layout their kernel reads and shared by every plan of the model;
 * - activations live in an arena assigned by liveness (a buffer is reused once its last reader has run).
 *
 * Anything the engine cannot run is refused with one line naming the node and op, before any work is submitted.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";
import type { KernelCall } from "../../kernels/_dispatch.ts";
import { elemBytes, type GpuType } from "../../kernels/_specialize.ts";
import {
  broadcastShape,
  contiguousStrides,
  type EwOp,
  GpuElementwise,
  type StridedView,
} from "../../kernels/elementwise.ts";
import { GpuReduce, type ReduceMode } from "../../kernels/reduce.ts";
import { DEFAULT_GEMM_TILES, type GemmActivation, type GemmTiles, GpuGemm } from "../../kernels/gemm.ts";
import { convOutput, foldBatchNorm, GpuConv2d, repackConvWeights } from "../../kernels/conv2d.ts";
import { GpuPool } from "../../kernels/pool.ts";
import { GpuRowNorm } from "../../kernels/rownorm.ts";
import {
  axisOf,
  castTarget,
  FOLDABLE_OPS,
  foldNode,
  reshapeDims,
  sliceRanges,
  squeezeDims,
  unsqueezeDims,
} from "./fold.ts";
import type { ConstTensor, GraphNode, ParsedGraph } from "./graph.ts";
import { fitTiles } from "./tiles.ts";

/** ONNX element types as the engine stores them on the GPU (int64 ids and indices become i32). */
const GPU_TYPES: Readonly<Record<string, GpuType>> = {
  float32: "f32",
  float16: "f16",
  int32: "i32",
  int64: "i32",
  bool: "i32",
};

/** The ONNX type name of what the engine returns for a GPU type. */
export const ONNX_OF: Readonly<Record<GpuType, string>> = { f32: "float32", f16: "float16", i32: "int32" };

const UNARY: Readonly<Record<string, EwOp>> = {
  Relu: "relu",
  Sigmoid: "sigmoid",
  Sqrt: "sqrt",
  Erf: "erf",
  Neg: "neg",
  Reciprocal: "reciprocal",
  Tanh: "tanh",
  Exp: "exp",
  Abs: "abs",
  Log: "log",
  Clip: "clip",
};
const BINARY: Readonly<Record<string, EwOp>> = {
  Add: "add",
  Sub: "sub",
  Mul: "mul",
  Div: "div",
  Pow: "pow",
  Min: "min",
  Max: "max",
};
const REDUCE: Readonly<Record<string, ReduceMode>> = {
  ReduceMean: "mean",
  ReduceSum: "sum",
  ReduceMax: "max",
  ReduceMin: "min",
  ReduceSumSquare: "sumsquare",
  ReduceL2: "l2",
};
const VIEWS = [
  "Reshape",
  "Flatten",
  "Unsqueeze",
  "Squeeze",
  "Identity",
  "Dropout",
  "Transpose",
  "Slice",
  "Split",
  "Expand",
];

/** Ops the engine runs on the GPU (or as views); with {@linkcode FOLDABLE_OPS} and Shape/Size, its op set. */
export const GPU_OPS: ReadonlySet<string> = new Set([
  ...Object.keys(UNARY),
  ...Object.keys(BINARY),
  ...Object.keys(REDUCE),
  ...VIEWS,
  "Conv",
  "BatchNormalization",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "Gemm",
  "MatMul",
  "Concat",
  "Softmax",
  "LayerNormalization",
  "Gather",
  "GatherND",
  "ArgMax",
  "ArgMin",
  "Cast",
  "Pad",
]);

/** Ops whose value is known at load from the input dims alone. */
export const SHAPE_OPS: ReadonlySet<string> = new Set(["Shape", "Size"]);

/** A region of GPU memory: an arena slot (assigned by liveness), or a fixed buffer (weights, inputs). */
export interface Alloc {
  readonly id: number;
  readonly bytes: number;
  readonly label: string;
  buffer?: GPUBuffer;
  /** Not from the arena: weights and constants (shared by plans), inputs and outputs (this plan's). */
  fixed?: boolean;
}

/** A tensor on the GPU: a strided view of an allocation. */
export interface GpuTensor {
  kind: "gpu";
  type: GpuType;
  /** The ONNX type it stands for (int64 ids are i32 on the GPU). */
  onnxType: string;
  dims: number[];
  alloc: Alloc;
  offset: number;
  strides: number[];
}

type Value = GpuTensor | (ConstTensor & { kind: "const" });

/** One recorded dispatch and what it binds (after params). */
export interface Step {
  call: KernelCall;
  bind: (Alloc | GPUBuffer)[];
}

/** A planned graph for one set of input dims. */
export interface Plan {
  key: string;
  steps: Step[];
  inputs: { name: string; type: GpuType; dims: number[]; alloc: Alloc }[];
  outputs: { name: string; tensor: GpuTensor }[];
  /** Arena slots (buffers assigned by liveness) and the buffers made for them. */
  arena: GPUBuffer[];
  /** Bytes of the arena (activations; inputs and weights not included). */
  arenaBytes: number;
}

/** Kernel drivers shared by all plans of a model (pipelines are built once per element type). */
export class EngineKernels {
  readonly ew: GpuElementwise;
  readonly reduce: GpuReduce;
  private readonly cache = new Map<string, GpuGemm | GpuConv2d | GpuPool | GpuRowNorm>();

  /**
   * @param device The device.
   * @param tiles GEMM tile sizes (from the adapter table).
   */
  constructor(readonly device: GPUDevice, readonly tiles: GemmTiles = DEFAULT_GEMM_TILES) {
    this.ew = new GpuElementwise(device);
    this.reduce = new GpuReduce(device);
  }

  private get<T extends GpuGemm | GpuConv2d | GpuPool | GpuRowNorm>(key: string, make: () => T): T {
    let k = this.cache.get(key);
    if (!k) this.cache.set(key, k = make());
    return k as T;
  }
  /** The GEMM kernel for an m × n product: the adapter's tiles, shrunk to fit a small one (`fitTiles`). */
  gemm(elem: GpuType, m: number, n: number): GpuGemm {
    const t = fitTiles(this.tiles, m, n);
    return this.get(`gemm ${elem} ${t.m}x${t.n}x${t.k}`, () => new GpuGemm(this.device, floatOnly(elem, "MatMul"), t));
  }
  /** The convolution kernel for an m × n implicit GEMM (m = images × positions, n = output channels). */
  conv(elem: GpuType, m: number, n: number): GpuConv2d {
    const t = fitTiles(this.tiles, m, n);
    return this.get(`conv ${elem} ${t.m}x${t.n}x${t.k}`, () => new GpuConv2d(this.device, floatOnly(elem, "Conv"), t));
  }
  pool(elem: GpuType): GpuPool {
    return this.get(`pool ${elem}`, () => new GpuPool(this.device, floatOnly(elem, "pooling")));
  }
  rownorm(elem: GpuType): GpuRowNorm {
    return this.get(`rownorm ${elem}`, () => new GpuRowNorm(this.device, floatOnly(elem, "Softmax/LayerNorm")));
  }

  /** Frees the drivers' own buffers. */
  release(): void {
    this.ew.release();
    for (const k of this.cache.values()) if ("release" in k) k.release();
  }
}

function floatOnly(t: GpuType, what: string): "f32" | "f16" {
  if (t === "i32") throw new RangeError(`${what} on integer tensors is not supported`);
  return t;
}

const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);
const nhwcStrides = (d: readonly number[]) => [d[1]! * d[2]! * d[3]!, 1, d[3]! * d[1]!, d[1]!];

function stridesMatch(t: GpuTensor, want: readonly number[]): boolean {
  return t.offset === 0 && t.dims.every((d, i) => d === 1 || t.strides[i] === want[i]);
}
/** A content fingerprint (FNV-1a over the values and their count), for constants folded at load. */
function fingerprint(values: ArrayLike<number>): string {
  let h = 0x811c9dc5;
  const f = new Float64Array(1), bytes = new Uint8Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  }
  return `${values.length}:${(h >>> 0).toString(16)}`;
}

/** How to read `t` as if broadcast to `dims` (ONNX broadcasting: leading and size-1 dims get stride 0). */
function broadcastView(t: GpuTensor, dims: readonly number[]): StridedView {
  const lead = dims.length - t.dims.length;
  return {
    offset: t.offset,
    strides: dims.map((_, i) => (i < lead || t.dims[i - lead] === 1 ? 0 : t.strides[i - lead]!)),
  };
}

const isContiguous = (t: GpuTensor) => stridesMatch(t, contiguousStrides(t.dims));
const isNhwc = (t: GpuTensor) => t.dims.length === 4 && stridesMatch(t, nhwcStrides(t.dims));

/** What a head node (Conv, Gemm, MatMul) absorbs, decided from the graph's structure before planning. */
interface Fusion {
  head: number;
  /** Node indices absorbed, in order; the fused op is emitted at the last one. */
  absorbed: number[];
  bn?: GraphNode;
  bias?: string;
  residual?: string;
  activation: GemmActivation;
  /** The value the fused op produces. */
  output: string;
}

/** Weights and constants on the GPU, shared by every plan of one model. */
export type WeightCache = Map<string, GPUBuffer>;

/**
 * Plans a graph for concrete input dims.
 *
 * @param graph The parsed graph.
 * @param file The model file, for messages.
 * @param dims Each input's dims.
 * @param kernels The model's kernel drivers.
 * @param weights The model's weight cache.
 * @returns The plan, its arena allocated.
 */
export function planGraph(
  graph: ParsedGraph,
  file: string,
  dims: Readonly<Record<string, number[]>>,
  kernels: EngineKernels,
  weights: WeightCache,
): Plan {
  return new Planner(graph, file, kernels, weights).plan(dims);
}

class Planner {
  private readonly values = new Map<string, Value>();
  private readonly steps: Step[] = [];
  private readonly allocs: Alloc[] = [];
  private readonly consumers = new Map<string, number[]>();
  private readonly graphOutputs: Set<string>;
  private readonly constNames = new Set<string>();
  private readonly fusions = new Map<number, Fusion>();
  private readonly absorbed = new Set<number>();
  private readonly converted = new Map<string, GpuTensor>();
  private node!: GraphNode;
  private nextId = 0;

  constructor(
    private readonly graph: ParsedGraph,
    private readonly file: string,
    private readonly k: EngineKernels,
    private readonly weights: WeightCache,
  ) {
    this.graphOutputs = new Set(graph.outputs.map((o) => o.name));
    graph.nodes.forEach((n, i) => {
      for (const x of n.inputs) if (x) this.consumers.set(x, [...(this.consumers.get(x) ?? []), i]);
    });
    for (const name of graph.inits.keys()) this.constNames.add(name);
    for (const n of graph.nodes) {
      const known = n.inputs.every((x) => !x || this.constNames.has(x));
      if (SHAPE_OPS.has(n.op) || n.op === "Constant" || (FOLDABLE_OPS.has(n.op) && known && n.op !== "Dropout")) {
        for (const o of n.outputs) this.constNames.add(o);
      }
    }
    graph.nodes.forEach((n, i) => this.findFusion(n, i));
  }

  private fail(why: string): never {
    throw new ClipcmpError(`--engine wgsl: ${this.file}: node "${this.node.name}" (${this.node.op}) ${why}`);
  }

  // --- structure: which nodes fuse -------------------------------------------------------------------------------

  /** The one node reading `v`, when `v` has exactly one reader, is no graph output, and is not yet absorbed. */
  private only(v: string): [number, GraphNode] | null {
    const c = this.consumers.get(v) ?? [];
    if (c.length !== 1 || this.graphOutputs.has(v) || this.absorbed.has(c[0]!)) return null;
    return [c[0]!, this.graph.nodes[c[0]!]!];
  }

  private isConst(v: string): boolean {
    return this.constNames.has(v);
  }

  private constValue(v: string): ConstTensor | undefined {
    return this.graph.inits.get(v);
  }

  private findFusion(n: GraphNode, i: number): void {
    if (this.absorbed.has(i)) return;
    const gemmLike =
      (n.op === "MatMul" && this.isConst(n.inputs[1]!) && this.constValue(n.inputs[1]!)?.dims.length === 2) ||
      n.op === "Gemm";
    if (n.op !== "Conv" && !gemmLike) return;
    const f: Fusion = { head: i, absorbed: [], activation: "none", output: n.outputs[0]! };
    const take = (j: number, node: GraphNode) => {
      f.absorbed.push(j);
      f.output = node.outputs[0]!;
    };
    const other = (node: GraphNode, v: string) => (node.inputs[0] === v ? node.inputs[1]! : node.inputs[0]!);
    let next = this.only(f.output);
    if (
      n.op === "Conv" && next?.[1].op === "BatchNormalization" &&
      next[1].inputs.slice(1).every((x) => this.constValue(x))
    ) {
      f.bn = next[1];
      take(...next);
      next = this.only(f.output);
    }
    if (n.op === "MatMul" && next?.[1].op === "Add") {
      const b = this.constValue(other(next[1], f.output));
      const cols = this.constValue(n.inputs[1]!)!.dims[1]!;
      if (b && b.data.length === cols && b.dims.at(-1) === cols) {
        f.bias = other(next[1], f.output);
        take(...next);
        next = this.only(f.output);
      }
    }
    if (next?.[1].op === "Add" && !this.isConst(other(next[1], f.output)) && next[1].inputs[0] !== next[1].inputs[1]) {
      f.residual = other(next[1], f.output);
      take(...next);
      next = this.only(f.output);
    }
    if (next?.[1].op === "Relu") {
      f.activation = "relu";
      take(...next);
    } else this.findGelu(f, take);
    if (f.absorbed.length) {
      // The head is emitted with its epilogue at the last absorbed node, not at its own place.
      for (const j of [i, ...f.absorbed]) this.absorbed.add(j);
      this.fusions.set(f.absorbed.at(-1)!, f);
    }
  }

  /** QuickGELU `t * sigmoid(1.702 t)` and GELU `(t * 0.5) * (erf(t * 1/sqrt 2) + 1)` after a GEMM. */
  private findGelu(f: Fusion, take: (j: number, n: GraphNode) => void): void {
    const t = f.output;
    const readers = this.consumers.get(t) ?? [];
    if (readers.length !== 2 || this.graphOutputs.has(t) || readers.some((j) => this.absorbed.has(j))) return;
    const nodes = readers.map((j) => [j, this.graph.nodes[j]!] as [number, GraphNode]);
    const scalar = (n: GraphNode, want: number) => {
      if (n.op !== "Mul") return false;
      const c = this.constValue(n.inputs[0] === t ? n.inputs[1]! : n.inputs[0]!);
      return !!c && c.data.length === 1 && Math.abs(c.data[0]! - want) < 2e-3 * Math.abs(want);
    };
    const quick = nodes.find(([, n]) => scalar(n, 1.702));
    if (quick) {
      const sig = this.only(quick[1].outputs[0]!);
      const outer = nodes.find(([j]) => j !== quick[0])!;
      if (sig?.[1].op === "Sigmoid" && outer[1].op === "Mul" && outer[1].inputs.includes(sig[1].outputs[0]!)) {
        const last = this.only(sig[1].outputs[0]!);
        if (last?.[0] === outer[0]) {
          for (const x of [quick, sig, outer].sort((a, b) => a[0] - b[0])) take(...x);
          f.activation = "quickgelu";
        }
      }
      return;
    }
    const half = nodes.find(([, n]) => scalar(n, 0.5));
    const rs = nodes.find(([, n]) => scalar(n, Math.SQRT1_2));
    if (!half || !rs) return;
    const erf = this.only(rs[1].outputs[0]!);
    const plus = erf?.[1].op === "Erf" ? this.only(erf[1].outputs[0]!) : null;
    const one = plus && plus[1].op === "Add" &&
      this.constValue(plus[1].inputs.find((x) => x !== erf![1].outputs[0])!)?.data[0] === 1;
    const fin = one ? this.only(plus[1].outputs[0]!) : null;
    const halfReader = this.only(half[1].outputs[0]!);
    if (fin?.[1].op === "Mul" && halfReader?.[0] === fin[0]) {
      for (const x of [half, rs, erf!, plus!, fin].sort((a, b) => a[0] - b[0])) take(...x);
      f.activation = "gelu";
    }
  }

  // --- allocation ------------------------------------------------------------------------------------------------

  private alloc(bytes: number, label: string, fixed = false): Alloc {
    const a: Alloc = { id: this.nextId++, bytes: Math.max(16, Math.ceil(bytes / 16) * 16), label, fixed };
    this.allocs.push(a);
    return a;
  }

  private out(type: GpuType, dims: number[], nhwc = false, onnxType = ONNX_OF[type]): GpuTensor {
    const alloc = this.alloc(size(dims) * elemBytes(type), `${this.node?.name ?? "input"} -> [${dims}]`);
    const strides = nhwc && dims.length === 4 ? nhwcStrides(dims) : contiguousStrides(dims);
    return { kind: "gpu", type, onnxType, dims, alloc, offset: 0, strides };
  }

  /**
   * A constant on the GPU, uploaded once per model: `data` is computed only when the cache does not hold it yet.
   * The key names it by the inputs it derives from (`sources`); when any of them is not an initializer (a value
   * folded at load, which may depend on the input dims, like `Range(batch) * 77`), the key also carries a
   * fingerprint of the data, so that plans for other dims never share a stale buffer.
   */
  private weight(
    key: string,
    label: string,
    type: GpuType,
    data: () => ArrayLike<number>,
    sources: readonly (string | undefined)[],
  ): GPUBuffer {
    let values: ArrayLike<number> | undefined;
    let k = `${key}|${type}`;
    if (sources.some((x) => x && !this.graph.inits.has(x))) {
      values = data();
      k += `|${fingerprint(values)}`;
    }
    let buf = this.weights.get(k);
    if (!buf) {
      values ??= data();
      const arr = type === "f16"
        ? Float16Array.from(values)
        : type === "i32"
        ? Int32Array.from(values)
        : Float32Array.from(values);
      const bytes = Math.max(16, Math.ceil(arr.byteLength / 16) * 16);
      buf = this.k.device.createBuffer({ label, size: bytes, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
      new Uint8Array(buf.getMappedRange()).set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
      buf.unmap();
      this.weights.set(k, buf);
    }
    return buf;
  }

  private step(call: KernelCall, bind: (Alloc | GPUBuffer)[]): void {
    this.steps.push({ call, bind });
  }

  // --- values ----------------------------------------------------------------------------------------------------

  private value(name: string): Value {
    const v = this.values.get(name);
    if (v) return v;
    const c = this.graph.inits.get(name);
    if (c) return { ...c, kind: "const" };
    this.fail(`reads "${name}", which nothing produces`);
  }

  private constIn(i: number, what: string): ConstTensor {
    const name = this.node.inputs[i];
    if (!name) this.fail(`needs its ${what} input`);
    const v = this.value(name);
    if (v.kind !== "const") this.fail(`needs its ${what} ("${name}") to be a constant`);
    return v;
  }

  /** An input as a GPU tensor: constants are uploaded (in `like`'s type when given). */
  private gpuIn(i: number, like?: GpuType): GpuTensor {
    const name = this.node.inputs[i]!;
    const v = this.value(name);
    if (v.kind === "gpu") return v;
    const type = like ?? GPU_TYPES[v.type];
    if (!type) this.fail(`cannot use the ${v.type} constant "${name}" on the GPU`);
    const buf = this.weight(`const ${name}`, name, type, () => v.data, [name]);
    const alloc: Alloc = { id: this.nextId++, bytes: buf.size, label: name, buffer: buf, fixed: true };
    return {
      kind: "gpu",
      type,
      onnxType: v.type,
      dims: [...v.dims],
      alloc,
      offset: 0,
      strides: contiguousStrides(v.dims),
    };
  }

  private set(name: string | undefined, v: Value): void {
    if (name) this.values.set(name, v);
  }

  /** `t` in the layout a kernel needs, copying when it is not already. */
  private layout(t: GpuTensor, want: "contiguous" | "nhwc"): GpuTensor {
    if (want === "nhwc" ? isNhwc(t) : isContiguous(t)) return t;
    // One copy per tensor and layout, however many readers want it.
    const key = `${t.alloc.id}:${t.offset}:${t.dims}:${t.strides}:${t.type}:${want}`;
    const done = this.converted.get(key);
    if (done) return done;
    const out = this.out(t.type, t.dims, want === "nhwc", t.onnxType);
    this.converted.set(key, out);
    this.copy(t, t.dims, t, out, { offset: 0, strides: out.strides });
    return out;
  }

  /** Records a copy of `src` read through `from` over `dims`, into `dst` written through `to`. */
  private copy(src: GpuTensor, dims: readonly number[], from: StridedView, dst: GpuTensor, to: StridedView): void {
    const call = this.k.ew.prepare("copy", dims, from, null, to, { ein: src.type, eout: src.type });
    this.step(call, [src.alloc, this.k.ew.unused, dst.alloc]);
  }

  // --- planning --------------------------------------------------------------------------------------------------

  plan(dims: Readonly<Record<string, number[]>>): Plan {
    const inputs: Plan["inputs"] = [];
    for (const inp of this.graph.inputs) {
      const d = dims[inp.name];
      if (!d) throw new ClipcmpError(`--engine wgsl: ${this.file}: no feed for input "${inp.name}"`);
      const type = GPU_TYPES[inp.type];
      if (!type) {
        throw new ClipcmpError(
          `--engine wgsl: ${this.file}: input "${inp.name}" is ${inp.type}, which the engine does not take`,
        );
      }
      const t = this.out(type, [...d], false, inp.type);
      t.alloc.fixed = true;
      this.values.set(inp.name, t);
      inputs.push({ name: inp.name, type, dims: [...d], alloc: t.alloc });
    }
    this.graph.nodes.forEach((n, i) => {
      this.node = n;
      if (n.domain !== "" && n.domain !== "ai.onnx") {
        this.fail(`is in domain "${n.domain}", which the engine does not run`);
      }
      const fusion = this.fusions.get(i);
      if (!fusion && this.absorbed.has(i)) return;
      try {
        if (fusion) {
          this.node = this.graph.nodes[fusion.head]!;
          this.emitFused(fusion);
        } else this.emit(n);
      } catch (err) {
        if (err instanceof ClipcmpError) throw err;
        this.fail(err instanceof Error ? err.message.replace(/^\w+: /, "") : String(err));
      }
    });
    const outputs: Plan["outputs"] = [];
    for (const o of this.graph.outputs) {
      this.node = { name: o.name, op: "output", domain: "", inputs: [o.name], outputs: [], attrs: {} };
      let t = this.layout(this.gpuIn(0), "contiguous");
      if (t.alloc.fixed && !inputs.some((x) => x.alloc === t.alloc)) {
        // A constant output: copy it out of the shared weight buffer.
        const copy = this.out(t.type, t.dims, false, t.onnxType);
        this.copy(t, t.dims, t, copy, { offset: 0, strides: copy.strides });
        t = copy;
      }
      outputs.push({ name: o.name, tensor: t });
    }
    const { arena, bytes } = this.assign(outputs.map((o) => o.tensor.alloc));
    return { key: JSON.stringify(dims), steps: this.steps, inputs, outputs, arena, arenaBytes: bytes };
  }

  /** Gives every arena allocation a buffer, reusing a buffer once the last step reading it has run. */
  private assign(pinned: Alloc[]): { arena: GPUBuffer[]; bytes: number } {
    const first = new Map<Alloc, number>(), last = new Map<Alloc, number>();
    this.steps.forEach((s, i) => {
      for (const b of s.bind) {
        if (b instanceof GPUBuffer || b.fixed) continue;
        if (!first.has(b)) first.set(b, i);
        last.set(b, i);
      }
    });
    for (const p of pinned) if (!p.fixed) last.set(p, Infinity);
    const arena: GPUBuffer[] = [];
    const free: GPUBuffer[] = [];
    const owner = new Map<Alloc, GPUBuffer>();
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const born = new Map<number, Alloc[]>(), dies = new Map<number, Alloc[]>();
    for (const [a, i] of first) born.set(i, [...(born.get(i) ?? []), a]);
    for (const [a, i] of last) if (Number.isFinite(i)) dies.set(i, [...(dies.get(i) ?? []), a]);
    let bytes = 0;
    for (let i = 0; i < this.steps.length; i++) {
      for (const a of born.get(i) ?? []) {
        // Best fit among free buffers, else a new one.
        let best = -1;
        free.forEach((b, j) => {
          if (b.size >= a.bytes && (best < 0 || b.size < free[best]!.size)) best = j;
        });
        let buf: GPUBuffer;
        if (best >= 0) buf = free.splice(best, 1)[0]!;
        else {
          buf = this.k.device.createBuffer({ label: `engine arena ${arena.length}`, size: a.bytes, usage });
          arena.push(buf);
          bytes += a.bytes;
        }
        owner.set(a, buf);
        a.buffer = buf;
      }
      for (const a of dies.get(i) ?? []) free.push(owner.get(a)!);
    }
    for (const a of this.allocs) {
      if (a.fixed && !a.buffer) {
        // Inputs: this plan's own buffers, beside the arena (not counted in its bytes).
        a.buffer = this.k.device.createBuffer({ label: a.label, size: a.bytes, usage });
        arena.push(a.buffer);
      }
    }
    return { arena, bytes };
  }

  private emit(n: GraphNode): void {
    const allConst = n.outputs.every((o) => !o || this.constNames.has(o));
    if (SHAPE_OPS.has(n.op)) return this.emitShape(n);
    if (allConst) {
      const ins = n.inputs.map((x) => {
        if (!x) return undefined;
        const v = this.value(x);
        return v.kind === "const" ? v : undefined;
      });
      const out = foldNode(n, ins);
      if (!out) this.fail("cannot be evaluated at load");
      out.forEach((t, i) => this.set(n.outputs[i], { ...t, kind: "const" }));
      return;
    }
    if (UNARY[n.op]) return this.emitUnary(n);
    if (BINARY[n.op]) return this.emitBinary(n);
    if (REDUCE[n.op]) return this.emitReduce(n, REDUCE[n.op]!);
    switch (n.op) {
      case "Conv":
      case "Gemm":
        return this.emitFused({ head: -1, absorbed: [], activation: "none", output: n.outputs[0]! });
      case "MatMul":
        return this.isConst(n.inputs[1]!)
          ? this.emitFused({ head: -1, absorbed: [], activation: "none", output: n.outputs[0]! })
          : this.emitMatMul(n);
      case "BatchNormalization":
        return this.emitBatchNorm(n);
      case "MaxPool":
      case "AveragePool":
        return this.emitPool(n);
      case "GlobalAveragePool":
      case "GlobalMaxPool": {
        const x = this.gpuIn(0);
        if (x.dims.length !== 4) this.fail(`takes [N, C, H, W], got [${x.dims}]`);
        const [N, C, H, W] = x.dims as [number, number, number, number];
        const src = this.layout(x, "nhwc");
        const out = this.out(x.type, [N, C, 1, 1]);
        const mode = n.op === "GlobalAveragePool" ? "mean" : "max";
        this.step(this.k.reduce.prepare({ outer: N, r: H * W, inner: C }, mode, { ein: x.type, eout: x.type }), [
          src.alloc,
          out.alloc,
        ]);
        return this.set(n.outputs[0], out);
      }
      case "Concat":
        return this.emitConcat(n);
      case "Softmax":
      case "LayerNormalization":
        return this.emitRowNorm(n);
      case "Gather":
        return this.emitGather(n);
      case "GatherND":
        return this.emitGatherND(n);
      case "ArgMax":
      case "ArgMin":
        return this.emitArg(n);
      case "Cast":
        return this.emitCast(n);
      case "Pad":
        return this.emitPad(n);
    }
    if (VIEWS.includes(n.op)) return this.emitView(n);
    if (FOLDABLE_OPS.has(n.op)) this.fail("needs its inputs at load time; the engine does not run it on the GPU");
    this.fail("is not an op the engine runs");
  }

  private emitShape(n: GraphNode): void {
    const v = this.value(n.inputs[0]!);
    const dims = v.dims;
    let data: number[] = n.op === "Size" ? [size(dims)] : [...dims];
    if (n.op === "Shape") {
      const r = dims.length;
      const norm = (x: number) => Math.min(Math.max(x < 0 ? x + r : x, 0), r);
      const start = norm((n.attrs.start as number | undefined) ?? 0);
      const end = norm((n.attrs.end as number | undefined) ?? r);
      data = data.slice(start, end);
    }
    this.set(n.outputs[0], {
      kind: "const",
      type: "int64",
      dims: n.op === "Size" ? [] : [data.length],
      data: Float64Array.from(data),
    });
  }

  /** Writes an elementwise op over its inputs' broadcast shape, in NHWC when a same-shaped input is. */
  private elementwise(op: EwOp, xs: GpuTensor[], outType: GpuType, scalars?: { alpha?: number; beta?: number }) {
    const dims = xs.slice(1).reduce((d, x) => broadcastShape(d, x.dims), xs[0]!.dims);
    const nhwc = dims.length === 4 && xs.some((x) => sameDims(x.dims, dims) && isNhwc(x) && !isContiguous(x));
    const out = this.out(outType, dims, nhwc);
    const view = (t: GpuTensor) => broadcastView(t, dims);
    const call = this.k.ew.prepare(
      op,
      dims,
      view(xs[0]!),
      xs[1] ? view(xs[1]) : null,
      { offset: 0, strides: out.strides },
      { ein: xs[0]!.type, eout: outType },
      scalars,
    );
    this.step(call, [xs[0]!.alloc, xs[1]?.alloc ?? this.k.ew.unused, out.alloc]);
    return out;
  }

  private emitUnary(n: GraphNode): void {
    const x = this.gpuIn(0);
    let scalars: { alpha?: number; beta?: number } | undefined;
    if (n.op === "Clip") {
      const bound = (i: number, attr: string, dflt: number) =>
        n.inputs[i] ? this.constIn(i, attr).data[0]! : (n.attrs[attr] as number | undefined) ?? dflt;
      scalars = { alpha: bound(1, "min", -Infinity), beta: bound(2, "max", Infinity) };
    }
    this.set(n.outputs[0], this.elementwise(UNARY[n.op]!, [x], x.type, scalars));
  }

  private emitBinary(n: GraphNode): void {
    const a0 = this.value(n.inputs[0]!), b0 = this.value(n.inputs[1]!);
    const like = a0.kind === "gpu" ? a0.type : b0.kind === "gpu" ? b0.type : undefined;
    const a = this.gpuIn(0, like), b = this.gpuIn(1, like);
    this.set(n.outputs[0], this.elementwise(BINARY[n.op]!, [a, b], a.type));
  }

  private emitBatchNorm(n: GraphNode): void {
    const x = this.gpuIn(0);
    const [scale, shift, mean, variance] = [1, 2, 3, 4].map((i) => this.constIn(i, "statistics"));
    const eps = (n.attrs.epsilon as number | undefined) ?? 1e-5;
    const c = scale!.data.length;
    const s = scale!.data.map((g, i) => g / Math.sqrt(variance!.data[i]! + eps));
    const t = shift!.data.map((b, i) => b - mean!.data[i]! * s[i]!);
    const per = [c, ...x.dims.slice(2).map(() => 1)];
    const up = (key: string, data: Float64Array): GpuTensor => {
      const buf = this.weight(`${n.name} ${key}`, `${n.name} ${key}`, x.type, () => data, n.inputs.slice(1, 5));
      const alloc: Alloc = { id: this.nextId++, bytes: buf.size, label: key, buffer: buf, fixed: true };
      return {
        kind: "gpu",
        type: x.type,
        onnxType: x.onnxType,
        dims: per,
        alloc,
        offset: 0,
        strides: contiguousStrides(per),
      };
    };
    const y = this.elementwise("mul", [x, up("scale", s)], x.type);
    this.set(n.outputs[0], this.elementwise("add", [y, up("shift", t)], x.type));
  }

  /** Conv or Gemm/MatMul with a constant B, with whatever epilogue the fusion pass found. */
  private emitFused(f: Fusion): void {
    const n = this.node;
    if (n.op === "Conv") return this.emitConv(n, f);
    const x = this.gpuIn(0);
    const type = floatOnly(x.type, n.op);
    const b = this.constIn(1, "weight");
    if (b.dims.length !== 2) this.fail(`needs a 2-D constant weight, got [${b.dims}]`);
    let [K, N] = b.dims as [number, number];
    let wdata: ArrayLike<number> = b.data;
    let bias: Float64Array | undefined;
    if (n.op === "Gemm") {
      if (n.attrs.transA) this.fail("with transA is not supported");
      if (x.dims.length !== 2) this.fail(`takes a 2-D A, got [${x.dims}]`);
      const alpha = (n.attrs.alpha as number | undefined) ?? 1, beta = (n.attrs.beta as number | undefined) ?? 1;
      if (n.attrs.transB) {
        [K, N] = [N, K];
        const t = new Float64Array(K * N);
        for (let r = 0; r < N; r++) for (let c = 0; c < K; c++) t[c * N + r] = b.data[r * K + c]!;
        wdata = t;
      }
      if (alpha !== 1) wdata = Float64Array.from(wdata, (v) => v * alpha);
      if (n.inputs[2]) {
        const c = this.constIn(2, "bias");
        if (c.data.length !== N && c.data.length !== 1) this.fail(`has a bias of shape [${c.dims}], not [${N}]`);
        bias = Float64Array.from({ length: N }, (_, i) => beta * c.data[c.data.length === 1 ? 0 : i]!);
      }
    }
    if (f.bias) bias = Float64Array.from(this.graph.inits.get(f.bias)!.data);
    if (x.dims.at(-1) !== K) this.fail(`multiplies [${x.dims}] by [${K}, ${N}]`);
    const a = this.layout(x, "contiguous");
    const outDims = [...x.dims.slice(0, -1), N];
    const m = size(x.dims) / K;
    const wkey = n.op === "Gemm" ? `${n.name} B` : `const ${n.inputs[1]}`;
    const w = this.weight(wkey, `${n.name} weights`, type, () => wdata, [n.inputs[1]]);
    const biasBuf = bias && this.weight(`${n.name} bias`, `${n.name} bias`, type, () => bias!, [f.bias ?? n.inputs[2]]);
    const residual = this.residualFor(f, outDims, "contiguous");
    const out = this.out(type, outDims);
    const gemm = this.k.gemm(type, m, N);
    const call = gemm.prepare({ m, n: N, k: K }, [], {
      bias: !!biasBuf,
      residual: !!residual,
      activation: f.activation,
    });
    this.step(call, [a.alloc, w, biasBuf ?? gemm.unused, residual?.alloc ?? gemm.unused, out.alloc]);
    this.set(f.output, out);
  }

  private residualFor(f: Fusion, dims: number[], layout: "contiguous" | "nhwc"): GpuTensor | undefined {
    if (!f.residual) return undefined;
    const r = this.value(f.residual);
    if (r.kind !== "gpu" || !sameDims(r.dims, dims)) {
      this.fail(`has a residual "${f.residual}" of shape [${r.dims}], not the output's [${dims}]`);
    }
    return this.layout(r, layout);
  }

  private emitConv(n: GraphNode, f: Fusion): void {
    const x0 = this.gpuIn(0);
    const type = floatOnly(x0.type, "Conv");
    const w = this.constIn(1, "weight");
    if (x0.dims.length !== 4 || w.dims.length !== 4) this.fail(`supports 2-D convolutions only, got [${x0.dims}]`);
    const [co, ci, kh, kw] = w.dims as [number, number, number, number];
    const [N, C, H, W] = x0.dims as [number, number, number, number];
    const a = n.attrs;
    if (((a.group as number | undefined) ?? 1) !== 1) this.fail("with groups is not supported");
    if (((a.dilations as number[] | undefined) ?? [1, 1]).some((d) => d !== 1)) {
      this.fail("with dilation is not supported");
    }
    if (C !== ci) this.fail(`takes ${ci} channels, got ${C}`);
    const [sh, sw] = (a.strides as number[] | undefined) ?? [1, 1];
    const pads = this.pads(H, W, kh, kw, sh!, sw!);
    const bias0 = n.inputs[2] ? this.constIn(2, "bias").data : undefined;
    let wdata: ArrayLike<number> = w.data, bias: ArrayLike<number> | undefined = bias0;
    if (f.bn) {
      const [scale, shift, mean, variance] = f.bn.inputs.slice(1).map((x) => this.graph.inits.get(x)!.data);
      const eps = (f.bn.attrs.epsilon as number | undefined) ?? 1e-5;
      ({ w: wdata, b: bias } = foldBatchNorm(w.data, bias0, {
        scale: scale!,
        shift: shift!,
        mean: mean!,
        variance: variance!,
        eps,
      }));
    }
    const shape = { n: N, h: H, w: W, cin: C, cout: co, kh, kw, sh: sh!, sw: sw!, ph: pads[0], pw: pads[1] };
    const { oh: oh0, ow: ow0 } = convOutput({ h: H, w: W, kh, kw, sh: sh!, sw: sw!, ph: pads[0], pw: pads[1] });
    const conv = this.k.conv(type, N * oh0 * ow0, co);
    const sources = [n.inputs[1], n.inputs[2], ...(f.bn?.inputs.slice(1) ?? [])];
    const wbuf = this.weight(
      `${n.name} conv${f.bn ? ` + ${f.bn.name}` : ""}`,
      `${n.name} weights`,
      type,
      () => repackConvWeights(wdata, co, ci, kh, kw),
      sources,
    );
    const bbuf = bias &&
      this.weight(`${n.name} bias${f.bn ? ` + ${f.bn.name}` : ""}`, `${n.name} bias`, type, () => bias!, sources);
    const outDims = [N, co, oh0, ow0];
    const x = this.layout(x0, "nhwc");
    const residual = this.residualFor(f, outDims, "nhwc");
    const out = this.out(type, outDims, true);
    const epilogue = { bias: !!bbuf, residual: !!residual, activation: f.activation };
    // A 1x1 stride-1 unpadded conv over NHWC is a plain GEMM: [N·H·W, C_in] × [C_in, C_out]. It takes the
    // GEMM kernel, whose loads need no index arithmetic.
    const pointwise = kh === 1 && kw === 1 && sh === 1 && sw === 1 && pads[0] === 0 && pads[1] === 0;
    const kernel = pointwise ? this.k.gemm(type, N * H * W, co) : conv;
    const call = pointwise
      ? kernel.prepare({ m: N * H * W, n: co, k: C }, [], epilogue)
      : conv.prepareConv(shape, epilogue);
    this.step(call, [x.alloc, wbuf, bbuf ?? kernel.unused, residual?.alloc ?? kernel.unused, out.alloc]);
    this.set(f.output, out);
  }

  /** Symmetric pads from `pads` or `auto_pad`, refusing asymmetric ones. */
  private pads(h: number, w: number, kh: number, kw: number, sh: number, sw: number): [number, number] {
    const auto = (this.node.attrs.auto_pad as string | undefined) ?? "NOTSET";
    if (auto === "VALID") return [0, 0];
    if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
      const total = (n: number, k: number, s: number) => Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
      const th = total(h, kh, sh), tw = total(w, kw, sw);
      if (th % 2 || tw % 2) this.fail(`with ${auto} needs asymmetric padding, which is not supported`);
      return [th / 2, tw / 2];
    }
    if (auto !== "NOTSET") this.fail(`has auto_pad "${auto}"`);
    const p = (this.node.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
    if (p.length !== 4 || p[0] !== p[2] || p[1] !== p[3]) {
      this.fail(`has asymmetric pads [${p}], which are not supported`);
    }
    return [p[0]!, p[1]!];
  }

  private emitPool(n: GraphNode): void {
    const x0 = this.gpuIn(0);
    if (x0.dims.length !== 4) this.fail(`supports 2-D pooling only, got [${x0.dims}]`);
    const a = n.attrs;
    if (a.ceil_mode) this.fail("with ceil_mode is not supported");
    if (((a.dilations as number[] | undefined) ?? [1, 1]).some((d) => d !== 1)) {
      this.fail("with dilation is not supported");
    }
    if (n.outputs[1]) this.fail("with an Indices output is not supported");
    const [kh, kw] = a.kernel_shape as number[];
    const [sh, sw] = (a.strides as number[] | undefined) ?? [1, 1];
    const [N, C, H, W] = x0.dims as [number, number, number, number];
    const [ph, pw] = this.pads(H, W, kh!, kw!, sh!, sw!);
    const s = { n: N, h: H, w: W, c: C, kh: kh!, kw: kw!, sh: sh!, sw: sw!, ph, pw };
    const call = this.k.pool(x0.type).prepare(s, n.op === "MaxPool" ? "max" : "average", a.count_include_pad === 1);
    const { oh, ow } = convOutput(s);
    const x = this.layout(x0, "nhwc");
    const out = this.out(x0.type, [N, C, oh, ow], true);
    this.step(call, [x.alloc, out.alloc]);
    this.set(n.outputs[0], out);
  }

  private emitMatMul(n: GraphNode): void {
    const a0 = this.gpuIn(0), b0 = this.gpuIn(1, this.value(n.inputs[0]!).kind === "gpu" ? a0.type : undefined);
    const type = floatOnly(a0.type, "MatMul");
    if (a0.dims.length < 2 || b0.dims.length < 2) {
      this.fail(`multiplies [${a0.dims}] by [${b0.dims}]: 1-D operands are not supported`);
    }
    const [M, K] = a0.dims.slice(-2) as [number, number];
    const [K2, N] = b0.dims.slice(-2) as [number, number];
    if (K !== K2) this.fail(`multiplies [${a0.dims}] by [${b0.dims}]`);
    const ab = a0.dims.slice(0, -2), bb = b0.dims.slice(0, -2);
    const batch = broadcastShape(ab, bb);
    const rank = batch.length;
    const count = size(batch);
    // An operand whose batch is all ones is shared (stride 0); one with the full batch is strided; anything in
    // between is expanded first.
    const prep = (t: GpuTensor, tb: number[], rows: number, cols: number): [GpuTensor, number] => {
      if (size(tb) === 1) return [this.layout(t, "contiguous"), 0];
      const full = tb.length === rank && tb.every((d, i) => d === batch[i]);
      if (full) return [this.layout(t, "contiguous"), rows * cols];
      const dims = [...batch, rows, cols];
      const view = broadcastView(t, dims);
      const out = this.out(t.type, dims, false, t.onnxType);
      this.copy(t, dims, view, out, { offset: 0, strides: out.strides });
      return [out, rows * cols];
    };
    const [a, sa] = prep(a0, ab, M, K);
    const [b, sb] = prep(b0, bb, K, N);
    const out = this.out(type, [...batch, M, N]);
    const gemm = this.k.gemm(type, M, N);
    const call = gemm.prepare({ m: M, n: N, k: K }, [], {}, { count, a: sa, b: sb, c: M * N });
    this.step(call, [a.alloc, b.alloc, gemm.unused, gemm.unused, out.alloc]);
    this.set(n.outputs[0], out);
  }

  private emitConcat(n: GraphNode): void {
    const parts = n.inputs.map((_, i) => i).filter((i) => n.inputs[i]);
    const first = parts.map((i) => this.value(n.inputs[i]!)).find((v) => v.kind === "gpu") as GpuTensor;
    const xs = parts.map((i) => this.gpuIn(i, first.type)).filter((t) => size(t.dims) > 0);
    const axis = axisOf(n.attrs.axis as number, first.dims.length, "Concat");
    const dims = [...first.dims];
    dims[axis] = xs.reduce((s, t) => s + t.dims[axis]!, 0);
    const out = this.out(first.type, dims, false, first.onnxType);
    let at = 0;
    for (const t of xs) {
      if (t.dims.length !== dims.length || t.dims.some((d, i) => i !== axis && d !== dims[i])) {
        this.fail(`joins [${t.dims}] with [${first.dims}] on axis ${axis}`);
      }
      this.copy(t, t.dims, t, out, { offset: at * out.strides[axis]!, strides: out.strides });
      at += t.dims[axis]!;
    }
    this.set(n.outputs[0], out);
  }

  private emitRowNorm(n: GraphNode): void {
    const x0 = this.gpuIn(0);
    const type = floatOnly(x0.type, n.op);
    const rank = x0.dims.length;
    const axis = axisOf((n.attrs.axis as number | undefined) ?? -1, rank, n.op);
    const x = this.layout(x0, "contiguous");
    const rn = this.k.rownorm(type);
    const out = this.out(type, [...x0.dims]);
    if (n.op === "Softmax") {
      if (axis !== rank - 1) this.fail(`over axis ${axis} of [${x0.dims}] is not supported (only the last axis)`);
      const d = x0.dims[axis]!;
      this.step(rn.prepare({ rows: size(x0.dims) / d, d }, "softmax"), [x.alloc, rn.unused, rn.unused, out.alloc]);
    } else {
      if (n.outputs.slice(1).some((o) => o && this.consumers.has(o))) {
        this.fail("with Mean or InvStdDev outputs in use is not supported");
      }
      const d = size(x0.dims.slice(axis));
      const gamma = this.constIn(1, "scale");
      const beta = n.inputs[2]
        ? this.constIn(2, "bias")
        : { type: gamma.type, dims: gamma.dims, data: new Float64Array(d) };
      if (gamma.data.length !== d || beta.data.length !== d) {
        this.fail(`normalises ${d} values with a scale of ${gamma.data.length}`);
      }
      const g = this.weight(`const ${n.inputs[1]}`, `${n.name} scale`, type, () => gamma.data, [n.inputs[1]]);
      const b = this.weight(
        n.inputs[2] ? `const ${n.inputs[2]}` : `${n.name} zero bias`,
        `${n.name} bias`,
        type,
        () => beta.data,
        [n.inputs[2]],
      );
      const eps = (n.attrs.epsilon as number | undefined) ?? 1e-5;
      this.step(rn.prepare({ rows: size(x0.dims) / d, d }, "layernorm", eps), [x.alloc, g, b, out.alloc]);
    }
    this.set(n.outputs[0], out);
  }

  private emitReduce(n: GraphNode, mode: ReduceMode): void {
    const x0 = this.gpuIn(0);
    const rank = x0.dims.length;
    const attrAxes = n.attrs.axes as number[] | undefined;
    let axes = attrAxes ?? (n.inputs[1] ? [...this.constIn(1, "axes").data] : []);
    if (axes.length === 0) {
      if (n.attrs.noop_with_empty_axes) return this.set(n.outputs[0], x0);
      axes = x0.dims.map((_, i) => i);
    }
    axes = [...new Set(axes.map((a) => axisOf(a, rank, n.op)))].sort((a, b) => a - b);
    if (axes.some((a, i) => i > 0 && a !== axes[i - 1]! + 1)) {
      this.fail(`over axes [${axes}]: only one run of adjacent axes is supported`);
    }
    const keep = ((n.attrs.keepdims as number | undefined) ?? 1) === 1;
    const outDims = keep
      ? x0.dims.map((d, i) => (axes.includes(i) ? 1 : d))
      : x0.dims.filter((_, i) => !axes.includes(i));
    let x: GpuTensor, shape: { outer: number; r: number; inner: number };
    if (rank === 4 && isNhwc(x0) && !isContiguous(x0) && axes.join() === "2,3") {
      x = x0;
      shape = { outer: x0.dims[0]!, r: x0.dims[2]! * x0.dims[3]!, inner: x0.dims[1]! };
    } else {
      x = this.layout(x0, "contiguous");
      const lo = axes[0]!, hi = axes.at(-1)! + 1;
      shape = { outer: size(x0.dims.slice(0, lo)), r: size(x0.dims.slice(lo, hi)), inner: size(x0.dims.slice(hi)) };
    }
    const type = floatOnly(x0.type, n.op);
    const out = this.out(type, outDims);
    this.step(this.k.reduce.prepare(shape, mode, { ein: type, eout: type }), [x.alloc, out.alloc]);
    this.set(n.outputs[0], out);
  }

  private emitArg(n: GraphNode): void {
    const x0 = this.gpuIn(0);
    if (n.attrs.select_last_index) this.fail("with select_last_index is not supported");
    const axis = axisOf((n.attrs.axis as number | undefined) ?? 0, x0.dims.length, n.op);
    const keep = ((n.attrs.keepdims as number | undefined) ?? 1) === 1;
    const x = this.layout(x0, "contiguous");
    const shape = { outer: size(x0.dims.slice(0, axis)), r: x0.dims[axis]!, inner: size(x0.dims.slice(axis + 1)) };
    const outDims = keep ? x0.dims.map((d, i) => (i === axis ? 1 : d)) : x0.dims.filter((_, i) => i !== axis);
    const out = this.out("i32", outDims, false, "int64");
    const mode = n.op === "ArgMax" ? "argmax" : "argmin";
    this.step(this.k.reduce.prepare(shape, mode, { ein: x0.type, eout: "i32" }), [x.alloc, out.alloc]);
    this.set(n.outputs[0], out);
  }

  private emitGather(n: GraphNode): void {
    const data = this.value(n.inputs[0]!), idx = this.value(n.inputs[1]!);
    const axis = axisOf((n.attrs.axis as number | undefined) ?? 0, data.dims.length, "Gather");
    if (idx.kind === "const") {
      // A constant index picks a slice: a view, no copy.
      const x = this.gpuIn(0);
      const len = x.dims[axis]!;
      const picks = [...idx.data].map((i) => (i < 0 ? i + len : i));
      if (picks.some((i) => i < 0 || i >= len)) this.fail(`indexes [${[...idx.data]}] outside ${len}`);
      const start = picks[0] ?? 0;
      const step = picks.length > 1 ? picks[1]! - picks[0]! : 1;
      if (step < 1 || picks.some((p, i) => p !== start + i * step)) {
        this.fail("with non-arithmetic constant indices is not supported");
      }
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      const strides = [
        ...x.strides.slice(0, axis),
        ...idx.dims.map(() => x.strides[axis]! * step),
        ...x.strides.slice(axis + 1),
      ];
      return this.set(n.outputs[0], { ...x, dims, strides, offset: x.offset + start * x.strides[axis]! });
    }
    if (axis !== 0) this.fail(`on axis ${axis} with indices computed at run time is not supported`);
    const table = this.layout(this.gpuIn(0), "contiguous");
    const ids = this.layout(idx, "contiguous");
    if (ids.type !== "i32") this.fail("needs integer indices");
    const d = size(table.dims.slice(1));
    const out = this.out(table.type, [...idx.dims, ...table.dims.slice(1)], false, table.onnxType);
    const call = this.k.reduce.prepareGather(
      { groups: 1, r: Math.max(1, size(idx.dims)), t: table.dims[0]!, d },
      table.type,
    );
    this.step(call, [table.alloc, ids.alloc, out.alloc]);
    this.set(n.outputs[0], out);
  }

  private emitGatherND(n: GraphNode): void {
    const x0 = this.gpuIn(0), i0 = this.gpuIn(1);
    const bd = (n.attrs.batch_dims as number | undefined) ?? 0;
    if (bd > 1 || i0.dims.at(-1) !== 1) this.fail("is supported with batch_dims 0 or 1 and one index per row only");
    if (i0.type !== "i32") this.fail("needs integer indices");
    const x = this.layout(x0, "contiguous"), idx = this.layout(i0, "contiguous");
    const groups = bd ? x0.dims[0]! : 1;
    const t = x0.dims[bd]!;
    const rest = x0.dims.slice(bd + 1);
    const r = size(i0.dims.slice(bd, -1));
    const out = this.out(x0.type, [...i0.dims.slice(0, -1), ...rest], false, x0.onnxType);
    this.step(this.k.reduce.prepareGather({ groups, r, t, d: size(rest) }, x0.type), [x.alloc, idx.alloc, out.alloc]);
    this.set(n.outputs[0], out);
  }

  /** Constant-mode Pad: the output filled with the value, then the input copied into its interior. */
  private emitPad(n: GraphNode): void {
    const x = this.gpuIn(0);
    const mode = (n.attrs.mode as string | undefined) ?? "constant";
    if (mode !== "constant") this.fail(`in mode "${mode}" is not supported`);
    const rank = x.dims.length;
    const raw = (n.attrs.pads as number[] | undefined) ?? [...this.constIn(1, "pads").data];
    const axes = n.inputs[3]
      ? [...this.constIn(3, "axes").data].map((a) => axisOf(a, rank, "Pad"))
      : x.dims.map((_, i) => i);
    if (raw.length !== 2 * axes.length) this.fail(`has ${raw.length} pads for ${axes.length} axes`);
    const before = new Array<number>(rank).fill(0), after = new Array<number>(rank).fill(0);
    axes.forEach((a, i) => {
      before[a] = raw[i]!;
      after[a] = raw[i + axes.length]!;
    });
    if ([...before, ...after].some((p) => p < 0)) this.fail("with negative pads (cropping) is not supported");
    const value = n.inputs[2]
      ? this.constIn(2, "constant value").data[0] ?? 0
      : (n.attrs.value as number | undefined) ?? 0;
    const dims = x.dims.map((d, i) => d + before[i]! + after[i]!);
    const out = this.out(x.type, dims, false, x.onnxType);
    const types = { ein: x.type, eout: x.type };
    const zero = { offset: 0, strides: dims.map(() => 0) };
    this.step(
      this.k.ew.prepare("fill", dims, zero, null, { offset: 0, strides: out.strides }, types, { alpha: value }),
      [
        x.alloc,
        this.k.ew.unused,
        out.alloc,
      ],
    );
    const at = before.reduce((s, p, i) => s + p * out.strides[i]!, 0);
    this.copy(x, x.dims, x, out, { offset: at, strides: out.strides });
    this.set(n.outputs[0], out);
  }

  private emitCast(n: GraphNode): void {
    const x = this.gpuIn(0);
    const to = castTarget(n.attrs.to as number);
    const type = to && GPU_TYPES[to];
    if (!to || !type) this.fail(`to type ${n.attrs.to} is not supported`);
    if (type === x.type) return this.set(n.outputs[0], { ...x, onnxType: to });
    const out = this.elementwise("copy", [x], type);
    this.set(n.outputs[0], { ...out, onnxType: to });
  }

  private emitView(n: GraphNode): void {
    const x = this.gpuIn(0);
    const reshape = (dims: number[]) => {
      const c = this.layout(x, "contiguous");
      return { ...c, dims, strides: contiguousStrides(dims) };
    };
    const axesOf = () =>
      (n.attrs.axes as number[] | undefined) ?? (n.inputs[1] ? [...this.constIn(1, "axes").data] : undefined);
    switch (n.op) {
      case "Identity":
      case "Dropout":
        return this.set(n.outputs[0], x);
      case "Reshape":
        return this.set(
          n.outputs[0],
          reshape(reshapeDims(x.dims, [...this.constIn(1, "shape").data], n.attrs.allowzero === 1)),
        );
      case "Flatten": {
        const axis = axisOf((n.attrs.axis as number | undefined) ?? 1, x.dims.length + 1, "Flatten");
        return this.set(n.outputs[0], reshape([size(x.dims.slice(0, axis)), size(x.dims.slice(axis))]));
      }
      case "Unsqueeze":
      case "Squeeze": {
        const dims = n.op === "Unsqueeze" ? unsqueezeDims(x.dims, axesOf() ?? []) : squeezeDims(x.dims, axesOf());
        return this.set(n.outputs[0], reshape(dims));
      }
      case "Transpose": {
        const perm = (n.attrs.perm as number[] | undefined) ?? x.dims.map((_, i) => x.dims.length - 1 - i);
        return this.set(n.outputs[0], {
          ...x,
          dims: perm.map((p) => x.dims[p]!),
          strides: perm.map((p) => x.strides[p]!),
        });
      }
      case "Slice": {
        const get = (i: number) => (n.inputs[i] ? [...this.constIn(i, "slice bounds").data] : undefined);
        const ranges = sliceRanges(
          x.dims,
          get(1) ?? (n.attrs.starts as number[]),
          get(2) ?? (n.attrs.ends as number[]),
          get(3) ?? (n.attrs.axes as number[] | undefined),
          get(4),
        );
        if (ranges.some((r) => r.step < 0)) this.fail("with a negative step is not supported");
        let offset = x.offset;
        ranges.forEach((r, i) => (offset += r.start * x.strides[i]!));
        return this.set(n.outputs[0], {
          ...x,
          offset,
          dims: ranges.map((r) => r.count),
          strides: ranges.map((r, i) => r.step * x.strides[i]!),
        });
      }
      case "Split": {
        const axis = axisOf((n.attrs.axis as number | undefined) ?? 0, x.dims.length, "Split");
        const len = x.dims[axis]!;
        let sizes = (n.attrs.split as number[] | undefined) ??
          (n.inputs[1] ? [...this.constIn(1, "split").data] : undefined);
        if (!sizes) {
          const parts = n.outputs.length, each = Math.ceil(len / parts);
          sizes = Array.from({ length: parts }, (_, i) => Math.min(each, len - i * each));
        }
        if (sizes.reduce((a, b) => a + b, 0) !== len) this.fail(`splits ${len} into [${sizes}]`);
        let at = 0;
        sizes.forEach((s, i) => {
          const dims = [...x.dims];
          dims[axis] = s;
          this.set(n.outputs[i], { ...x, dims, offset: x.offset + at * x.strides[axis]! });
          at += s;
        });
        return;
      }
      case "Expand": {
        const shape = [...this.constIn(1, "shape").data];
        const dims = broadcastShape(x.dims, shape);
        return this.set(n.outputs[0], { ...x, dims, strides: [...broadcastView(x, dims).strides] });
      }
    }
  }
}
