/**
 * Evaluating nodes on the CPU at load, when every input is known then: the shape arithmetic of exported graphs
 * (Shape → Gather → Unsqueeze → Concat → Reshape), Constant, casts and small arithmetic on constants. With the
 * input dims fixed per plan, `Shape` of any tensor is a constant, so these chains never reach the GPU.
 *
 * @example
 * ```ts
 * import { foldNode } from "./fold.ts";
 * const c = (dims: number[], data: number[]) => ({ type: "int64", dims, data: Float64Array.from(data) });
 * const [out] = foldNode(
 *   { name: "n", op: "Concat", domain: "", inputs: ["a", "b"], outputs: ["y"], attrs: { axis: 0 } },
 *   [c([1], [4]), c([2], [-1, 7])],
 * )!;
 * if (out!.data.join() !== "4,-1,7") throw new Error();
 * ```
 *
 * @module
 */
import { broadcastShape, broadcastStrides, contiguousStrides } from "../../kernels/elementwise.ts";
import { erf } from "../math/cpu.ts";
import { type ConstTensor, type GraphNode, ONNX_TYPES } from "./graph.ts";

/** The name of ONNX type number `to`, for Cast. */
export function castTarget(to: number): string | undefined {
  return ONNX_TYPES[to];
}

const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** Normalises a possibly negative axis for a rank. */
export function axisOf(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new RangeError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** Reads a tensor through broadcast strides into a new row-major array of shape `to`. */
function expandTo(t: ConstTensor, to: number[]): Float64Array {
  const st = broadcastStrides(t.dims, contiguousStrides(t.dims), to);
  const out = new Float64Array(size(to));
  const idx = new Array(to.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    let off = 0;
    for (let d = 0; d < to.length; d++) off += idx[d]! * st[d]!;
    out[i] = t.data[off]!;
    for (let d = to.length - 1; d >= 0; d--) {
      if (++idx[d]! < to[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

function rounded(type: string, v: number): number {
  if (type === "int32" || type === "int64") return Math.trunc(v);
  if (type === "bool") return v ? 1 : 0;
  if (type === "float32") return Math.fround(v);
  if (type === "float16") return new Float16Array([v])[0]!;
  return v;
}

const BINARY: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y,
  Sub: (x, y) => x - y,
  Mul: (x, y) => x * y,
  Div: (x, y) => x / y,
  Pow: (x, y) => x ** y,
  Equal: (x, y) => (x === y ? 1 : 0),
  Less: (x, y) => (x < y ? 1 : 0),
  Greater: (x, y) => (x > y ? 1 : 0),
  Max: Math.max,
  Min: Math.min,
};

const UNARY: Record<string, (x: number) => number> = {
  Neg: (x) => -x,
  Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x,
  Abs: Math.abs,
  Exp: Math.exp,
  Relu: (x) => Math.max(x, 0),
  Sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  Erf: erf,
  Floor: Math.floor,
  Ceil: Math.ceil,
  Not: (x) => (x ? 0 : 1),
};

/** Ops {@linkcode foldNode} can evaluate (when their inputs are constants). */
export const FOLDABLE_OPS: ReadonlySet<string> = new Set([
  ...Object.keys(BINARY),
  ...Object.keys(UNARY),
  "Constant",
  "Identity",
  "Dropout",
  "Cast",
  "Reshape",
  "Flatten",
  "Unsqueeze",
  "Squeeze",
  "Concat",
  "Gather",
  "Slice",
  "Range",
  "Where",
  "ConstantOfShape",
  "Expand",
  "Transpose",
]);

/** Resolves Reshape's target shape (0 copies a dim unless allowzero, -1 is inferred). */
export function reshapeDims(from: readonly number[], spec: readonly number[], allowzero = false): number[] {
  const out = spec.map((d, i) => (d === 0 && !allowzero ? from[i]! : d));
  const infer = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1) throw new RangeError(`Reshape: more than one -1 in [${spec}]`);
  const known = size(out.filter((d) => d !== -1));
  if (infer >= 0) {
    if (known === 0 || size(from) % known) throw new RangeError(`Reshape: cannot reshape [${from}] to [${spec}]`);
    out[infer] = size(from) / known;
  }
  if (size(out) !== size(from)) {
    throw new RangeError(`Reshape: [${from}] has ${size(from)} elements, [${out}] ${size(out)}`);
  }
  return out;
}

/** Resolves Slice's inputs for one tensor: per axis, the start, the step and the count taken. */
export function sliceRanges(
  dims: readonly number[],
  starts: readonly number[],
  ends: readonly number[],
  axes: readonly number[] | undefined,
  steps: readonly number[] | undefined,
): { start: number; step: number; count: number }[] {
  const out = dims.map((d) => ({ start: 0, step: 1, count: d }));
  starts.forEach((s0, i) => {
    const axis = axisOf(axes?.[i] ?? i, dims.length, "Slice");
    const d = dims[axis]!;
    const step = steps?.[i] ?? 1;
    if (step === 0) throw new RangeError("Slice: step 0");
    const clampIdx = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
    const start = step > 0 ? clampIdx(s0, 0, d) : clampIdx(s0, 0, d - 1);
    const end = step > 0 ? clampIdx(ends[i]!, 0, d) : clampIdx(ends[i]!, -1, d - 1);
    const count = Math.max(0, Math.ceil((end - start) / step));
    out[axis] = { start, step, count };
  });
  return out;
}

/** Squeeze's or Unsqueeze's axes, from the attribute (opset < 13) or the second input. */
function axesArg(node: GraphNode, inputs: (ConstTensor | undefined)[]): number[] | undefined {
  const a = node.attrs.axes;
  if (Array.isArray(a)) return a;
  return inputs[1] ? [...inputs[1].data] : undefined;
}

/** Unsqueeze's output dims. */
export function unsqueezeDims(dims: readonly number[], axes: readonly number[]): number[] {
  const rank = dims.length + axes.length;
  const at = new Set(axes.map((a) => axisOf(a, rank, "Unsqueeze")));
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : dims[j++]!);
  return out;
}

/** Squeeze's output dims. */
export function squeezeDims(dims: readonly number[], axes: readonly number[] | undefined): number[] {
  if (!axes) return dims.filter((d) => d !== 1);
  const at = new Set(axes.map((a) => axisOf(a, dims.length, "Squeeze")));
  return dims.filter((_, i) => !at.has(i));
}

/**
 * Evaluates a node whose inputs are all constants.
 *
 * @param node The node.
 * @param inputs Its inputs (undefined for an omitted optional input).
 * @returns Its outputs, or null when the op cannot be folded.
 */
export function foldNode(node: GraphNode, inputs: (ConstTensor | undefined)[]): ConstTensor[] | null {
  const x = inputs[0];
  const a = node.attrs;
  const int = (dims: number[], data: ArrayLike<number>): ConstTensor => ({
    type: "int64",
    dims,
    data: Float64Array.from(data),
  });
  if (node.op === "Constant") {
    if (a.value && typeof a.value === "object" && !Array.isArray(a.value)) return [a.value];
    if (typeof a.value_float === "number") return [{ type: "float32", dims: [], data: Float64Array.of(a.value_float) }];
    if (Array.isArray(a.value_floats)) {
      return [{ type: "float32", dims: [a.value_floats.length], data: Float64Array.from(a.value_floats) }];
    }
    if (typeof a.value_int === "number") return [int([], [a.value_int])];
    if (Array.isArray(a.value_ints)) return [int([a.value_ints.length], a.value_ints)];
    return null;
  }
  if (node.op === "ConstantOfShape") {
    const v = a.value as ConstTensor | undefined;
    const dims = [...x!.data];
    return [{ type: v?.type ?? "float32", dims, data: new Float64Array(size(dims)).fill(v?.data[0] ?? 0) }];
  }
  if (node.op === "Range") {
    const [start, limit, delta] = inputs.map((t) => t!.data[0]!);
    const n = Math.max(0, Math.ceil((limit! - start!) / delta!));
    return [{ type: x!.type, dims: [n], data: Float64Array.from({ length: n }, (_, i) => start! + i * delta!) }];
  }
  if (!x) return null;
  if (BINARY[node.op] && inputs[1]) {
    const y = inputs[1];
    const dims = broadcastShape(x.dims, y.dims);
    const xs = expandTo(x, dims), ys = expandTo(y, dims);
    const f = BINARY[node.op]!;
    const logical = ["Equal", "Less", "Greater"].includes(node.op);
    const type = logical ? "bool" : x.type;
    const intDiv = node.op === "Div" && (type === "int64" || type === "int32");
    return [{
      type,
      dims,
      data: xs.map((v, i) => rounded(type, intDiv ? Math.trunc(v / ys[i]!) : f(v, ys[i]!))),
    }];
  }
  if (UNARY[node.op]) return [{ ...x, data: x.data.map((v) => rounded(x.type, UNARY[node.op]!(v))) }];
  switch (node.op) {
    case "Identity":
    case "Dropout":
      return [x];
    case "Cast": {
      const type = castTarget(a.to as number);
      if (!type) return null;
      return [{ type, dims: x.dims, data: x.data.map((v) => rounded(type, v)) }];
    }
    case "Reshape":
      return [{ ...x, dims: reshapeDims(x.dims, [...inputs[1]!.data], a.allowzero === 1) }];
    case "Flatten": {
      const axis = axisOf((a.axis as number | undefined) ?? 1, x.dims.length + 1, "Flatten");
      return [{ ...x, dims: [size(x.dims.slice(0, axis)), size(x.dims.slice(axis))] }];
    }
    case "Unsqueeze":
      return [{ ...x, dims: unsqueezeDims(x.dims, axesArg(node, inputs) ?? []) }];
    case "Squeeze":
      return [{ ...x, dims: squeezeDims(x.dims, axesArg(node, inputs)) }];
    case "Concat": {
      const parts = inputs.filter((t): t is ConstTensor => !!t);
      const axis = axisOf(a.axis as number, x.dims.length, "Concat");
      const dims = [...x.dims];
      dims[axis] = parts.reduce((s, t) => s + t.dims[axis]!, 0);
      const outer = size(dims.slice(0, axis));
      const data = new Float64Array(size(dims));
      let at = 0;
      for (let o = 0; o < outer; o++) {
        for (const t of parts) {
          const chunk = size(t.dims.slice(axis));
          data.set(t.data.subarray(o * chunk, (o + 1) * chunk), at);
          at += chunk;
        }
      }
      return [{ type: x.type, dims, data }];
    }
    case "Gather": {
      const idx = inputs[1]!;
      const axis = axisOf((a.axis as number | undefined) ?? 0, x.dims.length, "Gather");
      const outer = size(x.dims.slice(0, axis)), n = x.dims[axis]!, inner = size(x.dims.slice(axis + 1));
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      const data = new Float64Array(size(dims));
      let at = 0;
      for (let o = 0; o < outer; o++) {
        for (const i0 of idx.data) {
          const i = i0 < 0 ? i0 + n : i0;
          if (i < 0 || i >= n) throw new RangeError(`Gather: index ${i0} is out of range for ${n}`);
          data.set(x.data.subarray((o * n + i) * inner, (o * n + i + 1) * inner), at);
          at += inner;
        }
      }
      return [{ type: x.type, dims, data }];
    }
    case "Slice": {
      const get = (i: number) => (inputs[i] ? [...inputs[i]!.data] : undefined);
      const starts = get(1) ?? (a.starts as number[]), ends = get(2) ?? (a.ends as number[]);
      const r = sliceRanges(x.dims, starts, ends, get(3) ?? (a.axes as number[] | undefined), get(4));
      return [gatherStrided(x, r)];
    }
    case "Transpose": {
      const perm = (a.perm as number[] | undefined) ?? x.dims.map((_, i) => x.dims.length - 1 - i);
      const st = contiguousStrides(x.dims);
      return [gatherStrided(x, perm.map((p) => ({ start: 0, step: 1, count: x.dims[p]!, stride: st[p]! })))];
    }
    case "Expand": {
      const dims = broadcastShape(x.dims, [...inputs[1]!.data]);
      return [{ type: x.type, dims, data: expandTo(x, dims) }];
    }
    case "Where": {
      const [c, t, f] = inputs as ConstTensor[];
      const dims = broadcastShape(broadcastShape(c!.dims, t!.dims), f!.dims);
      const cs = expandTo(c!, dims), ts = expandTo(t!, dims), fs = expandTo(f!, dims);
      return [{ type: t!.type, dims, data: cs.map((v, i) => (v ? ts[i]! : fs[i]!)) }];
    }
  }
  return null;
}

/** Reads `x` along per-axis ranges (in the ranges' axis order; `stride` defaults to the axis's own). */
function gatherStrided(
  x: ConstTensor,
  ranges: { start: number; step: number; count: number; stride?: number }[],
): ConstTensor {
  const st = contiguousStrides(x.dims);
  const dims = ranges.map((r) => r.count);
  const data = new Float64Array(size(dims));
  const idx = new Array(dims.length).fill(0);
  for (let i = 0; i < data.length; i++) {
    let off = 0;
    ranges.forEach((r, d) => (off += (r.start + idx[d]! * r.step) * (r.stride ?? st[d]!)));
    data[i] = x.data[off]!;
    for (let d = dims.length - 1; d >= 0; d--) {
      if (++idx[d]! < dims[d]!) break;
      idx[d] = 0;
    }
  }
  return { type: x.type, dims, data };
}
