/**
 * Strided elementwise ops and index-map copies (see `elementwise.wgsl`): the engine's arithmetic with
 * broadcasting, its unary ops and activations, Cast, and the data movement of Transpose, Slice, Concat, Split,
 * Expand and layout changes, all as one kernel over strided views.
 *
 * @module
 */
import ewSrc from "./elementwise.wgsl" with { type: "text" };
import mathSrc from "./_math.wgsl" with { type: "text" };
import type { GpuType } from "./_specialize.ts";
import { createKernel, groups1d, type KernelCall } from "./_dispatch.ts";

const shaderSrc = `${ewSrc}\n${mathSrc}`;

/** Op codes of `elementwise.wgsl`. */
export const EW_OPS = {
  copy: 0,
  add: 1,
  sub: 2,
  mul: 3,
  div: 4,
  pow: 5,
  min: 6,
  max: 7,
  relu: 16,
  sigmoid: 17,
  sqrt: 18,
  erf: 19,
  neg: 20,
  reciprocal: 21,
  tanh: 22,
  exp: 23,
  abs: 24,
  quickgelu: 25,
  gelu: 26,
  clip: 27,
  log: 28,
  fill: 29,
} as const;

/** An elementwise op. */
export type EwOp = keyof typeof EW_OPS;

/** Whether an op reads two operands. */
export function isBinary(op: EwOp): boolean {
  return EW_OPS[op] > 0 && EW_OPS[op] < 16;
}

/** The most dims an iteration shape may have. */
export const MAX_EW_RANK = 8;

/** A strided view of a buffer: element offset and one stride per iteration dim (0 broadcasts). */
export interface StridedView {
  offset: number;
  strides: readonly number[];
}

/**
 * Row-major strides of a shape.
 *
 * @example
 * ```ts
 * import { contiguousStrides } from "./elementwise.ts";
 * if (contiguousStrides([2, 3, 4]).join() !== "12,4,1") throw new Error();
 * ```
 */
export function contiguousStrides(dims: readonly number[]): number[] {
  const out = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= dims[i]!;
  }
  return out;
}

/**
 * The broadcast shape of two shapes (NumPy rules, as ONNX's multidirectional broadcasting).
 *
 * @example
 * ```ts
 * import { broadcastShape } from "./elementwise.ts";
 * if (broadcastShape([8, 1, 6], [7, 1]).join() !== "8,7,6") throw new Error();
 * ```
 */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1, y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new RangeError(`shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/**
 * Strides that read a tensor of shape `dims` with `strides` as if broadcast to `to` (0 on broadcast dims).
 *
 * @example
 * ```ts
 * import { broadcastStrides } from "./elementwise.ts";
 * if (broadcastStrides([3, 1], [1, 1], [2, 3, 4]).join() !== "0,1,0") throw new Error();
 * ```
 */
export function broadcastStrides(dims: readonly number[], strides: readonly number[], to: readonly number[]): number[] {
  const lead = to.length - dims.length;
  if (lead < 0) throw new RangeError(`cannot broadcast [${dims}] to the lower-rank [${to}]`);
  return to.map((n, i) => {
    if (i < lead) return 0;
    const d = dims[i - lead]!;
    if (d === n) return d === 1 ? 0 : strides[i - lead]!;
    if (d === 1) return 0;
    throw new RangeError(`cannot broadcast [${dims}] to [${to}]`);
  });
}

/**
 * The same iteration with fewer dims: size-1 dims dropped, and each dim merged into the next where every view
 * steps over it as one run (stride[i] = stride[i + 1] * dims[i + 1] in all of them).
 *
 * @example
 * ```ts
 * import { coalesce } from "./elementwise.ts";
 * // [64, 2, 77, 77] + a [77, 77] mask: two dims, [128, 5929].
 * const c = coalesce([64, 2, 77, 77], [[11858, 5929, 77, 1], [0, 0, 77, 1], [11858, 5929, 77, 1]]);
 * if (c.dims.join() !== "128,5929" || c.strides[1]!.join() !== "0,1") throw new Error(JSON.stringify(c));
 * ```
 */
export function coalesce(
  dims: readonly number[],
  strides: readonly (readonly number[])[],
): { dims: number[]; strides: number[][] } {
  const keep = dims.map((_, i) => i).filter((i) => dims[i] !== 1);
  const out = { dims: [] as number[], strides: strides.map(() => [] as number[]) };
  for (const i of keep) {
    const last = out.dims.length - 1;
    if (last >= 0 && strides.every((s, v) => out.strides[v]![last] === s[i]! * dims[i]!)) {
      out.dims[last]! *= dims[i]!;
      strides.forEach((s, v) => (out.strides[v]![last] = s[i]!));
    } else {
      out.dims.push(dims[i]!);
      strides.forEach((s, v) => out.strides[v]!.push(s[i]!));
    }
  }
  if (out.dims.length === 0) return { dims: [1], strides: strides.map(() => [0]) };
  return out;
}

/** Runs `elementwise.wgsl`, one pipeline per (input type, output type). */
export class GpuElementwise {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly dummy: GPUBuffer;

  /**
   * @example The dispatch of a broadcast add of a per-channel bias [3, 1] to x [2, 3, 4], to bind and record
   * ```ts ignore
   * const ew = new GpuElementwise(device);
   * const call = ew.prepare("add", [2, 3, 4], { offset: 0, strides: [12, 4, 1] }, { offset: 0, strides: [0, 1, 0] },
   *   { offset: 0, strides: [12, 4, 1] }, { ein: "f32", eout: "f32" });
   * ```
   * @param device The device.
   * @param wg Workgroup size (override constant).
   */
  constructor(readonly device: GPUDevice, readonly wg = 256) {
    if (!Number.isInteger(wg) || wg < 1 || wg > device.limits.maxComputeInvocationsPerWorkgroup) {
      throw new RangeError(
        `elementwise workgroup size ${wg} is outside 1..${device.limits.maxComputeInvocationsPerWorkgroup}`,
      );
    }
    this.dummy = device.createBuffer({ label: "elementwise unused operand", size: 16, usage: GPUBufferUsage.STORAGE });
  }

  private pipeline(ein: GpuType, eout: GpuType): GPUComputePipeline {
    const key = `${ein}>${eout}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = createKernel(this.device, `elementwise ${key}`, shaderSrc, "main", { wg: this.wg }, { ein, eout });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** The buffer bound to a unary op's unused operand. */
  get unused(): GPUBuffer {
    return this.dummy;
  }

  /**
   * Validates one op over an iteration shape and returns its dispatch, unbound (bindings 1..3: a, b, out; a unary
   * op binds {@linkcode GpuElementwise.unused} for b).
   *
   * @param op The op.
   * @param dims The iteration shape (at most {@linkcode MAX_EW_RANK} dims).
   * @param a How to read a.
   * @param b How to read b (binary ops).
   * @param out How to write the result.
   * @param types Element types read and written.
   * @param scalars Clip's bounds.
   * @returns The call.
   */
  prepare(
    op: EwOp,
    dims: readonly number[],
    a: StridedView,
    b: StridedView | null,
    out: StridedView,
    types: { ein: GpuType; eout: GpuType },
    scalars: { alpha?: number; beta?: number } = {},
  ): KernelCall {
    const code = EW_OPS[op];
    if (code === undefined) throw new RangeError(`elementwise op "${op}" is not one of ${Object.keys(EW_OPS)}`);
    if (dims.length > MAX_EW_RANK) {
      throw new RangeError(`elementwise ops take at most ${MAX_EW_RANK} dims, got ${dims.length}`);
    }
    if (isBinary(op) !== !!b) {
      throw new RangeError(`elementwise ${op} takes ${isBinary(op) ? "two operands" : "one operand"}`);
    }
    const views = { a, b: b ?? { offset: 0, strides: dims.map(() => 0) }, out };
    for (const [what, v] of Object.entries(views)) {
      if (v.strides.length !== dims.length) {
        throw new RangeError(`elementwise ${what} has ${v.strides.length} strides for ${dims.length} dims`);
      }
      if (![v.offset, ...v.strides].every((x) => Number.isInteger(x) && x >= 0)) {
        throw new RangeError(`elementwise ${what} offset and strides must be integers >= 0`);
      }
    }
    if (!dims.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(`elementwise dims [${dims}] must be >= 1`);
    }
    const total = dims.reduce((x, y) => x * y, 1);
    if (total >= 2 ** 32) throw new RangeError(`elementwise op over ${total} elements is beyond u32 indexing`);
    const c = coalesce(dims, [views.a.strides, views.b.strides, views.out.strides]);
    const raw = new ArrayBuffer(32 + 4 * 32);
    const u = new Uint32Array(raw), f = new Float32Array(raw);
    u.set([total, code, views.a.offset, views.b.offset, views.out.offset]);
    f[5] = scalars.alpha ?? -Infinity;
    f[6] = scalars.beta ?? Infinity;
    u[7] = c.dims.length;
    const pad = MAX_EW_RANK - c.dims.length;
    const put = (at: number, xs: readonly number[], fill: number) => {
      for (let i = 0; i < MAX_EW_RANK; i++) u[at + i] = i < pad ? fill : xs[i - pad]!;
    };
    put(8, c.dims, 1);
    put(16, c.strides[0]!, 0);
    put(24, c.strides[1]!, 0);
    put(32, c.strides[2]!, 0);
    return {
      pipeline: this.pipeline(types.ein, types.eout),
      label: `${op} [${dims}]`,
      params: new Uint8Array(raw),
      groups: groups1d(Math.ceil(total / this.wg)),
    };
  }

  /** Frees the kernel's own buffer. */
  release(): void {
    this.dummy.destroy();
  }
}
