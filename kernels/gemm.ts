/**
 * GPU GEMM with a fused bias / residual / activation epilogue (see `gemm.wgsl`): the first kernel of the WGSL
 * engine (issue 18), shared by Gemm/MatMul and 1x1 convolutions.
 *
 * @module
 */
import gemmSrc from "./gemm.wgsl" with { type: "text" };
import mathSrc from "./_math.wgsl" with { type: "text" };
import { elemBytes, type ElemType } from "./_specialize.ts";
import { createKernel, type KernelCall, submitCall } from "./_dispatch.ts";

const shaderSrc = `${gemmSrc}\n${mathSrc}`;

/** The epilogue's activation. */
export type GemmActivation = "none" | "relu" | "quickgelu" | "gelu";
const ACT: Record<GemmActivation, number> = { none: 0, relu: 1, quickgelu: 2, gelu: 3 };

/** The epilogue of one GEMM or convolution. */
export interface GemmEpilogue {
  /** Bias [n]. */
  bias?: GPUBuffer;
  /** Residual, the output's shape. */
  residual?: GPUBuffer;
  /** Activation, after bias and residual. */
  activation?: GemmActivation;
}

/** A batch of independent products (MatMul over leading dims): how many, and element strides between them. */
export interface GemmBatch {
  /** Products. */
  count: number;
  /** Element strides of A, B and C (and the residual) between products; 0 broadcasts A or B. */
  a: number;
  b: number;
  c: number;
}

/** Tile sizes (override constants). */
export interface GemmTiles {
  /** Rows of C per workgroup, a multiple of 4. */
  m: number;
  /** Columns of C per workgroup, a multiple of 4. */
  n: number;
  /** K-slice staged in workgroup memory per step. */
  k: number;
}

/** The safe default for adapters with no measured entry. */
export const DEFAULT_GEMM_TILES: GemmTiles = { m: 64, n: 64, k: 16 };

/** The pipeline, validation and dispatch `gemm.wgsl`'s two variants share (GEMM and implicit-GEMM convolution). */
export class GemmKernel {
  private readonly pipeline: GPUComputePipeline;
  private readonly dummy: GPUBuffer;

  /**
   * @example C = relu(A B + bias) on buffers already on the GPU
   * ```ts ignore
   * const gemm = new GpuGemm(device, "f32");
   * const c = gemm.run(a, b, { m: 49, n: 2048, k: 512 }, { bias, activation: "relu" });
   * ```
   * @param device The device.
   * @param elem Element type of the tensors; f16 needs `shader-f16`. Accumulation is f32 either way.
   * @param tiles Tile sizes; validated against the device's workgroup limits before the pipeline is built.
   * @param conv Whether A is an NHWC image read as an implicit GEMM (the convolution variant).
   */
  constructor(
    readonly device: GPUDevice,
    readonly elem: ElemType,
    readonly tiles: GemmTiles = DEFAULT_GEMM_TILES,
    readonly conv = false,
  ) {
    const { m, n, k } = tiles;
    if (![m, n, k].every((v) => Number.isInteger(v) && v > 0) || m % 4 || n % 4) {
      throw new RangeError(`GEMM tiles must be positive integers with m and n multiples of 4, got ${m}x${n}x${k}`);
    }
    const lim = device.limits;
    const invocations = (m / 4) * (n / 4);
    const shared = 4 * k * (m + n);
    if (
      invocations > lim.maxComputeInvocationsPerWorkgroup || n / 4 > lim.maxComputeWorkgroupSizeX ||
      m / 4 > lim.maxComputeWorkgroupSizeY || shared > lim.maxComputeWorkgroupStorageSize
    ) {
      throw new RangeError(
        `GEMM tiles ${m}x${n}x${k} need ${invocations} invocations and ${shared} bytes of workgroup memory, beyond this device's limits`,
      );
    }
    this.pipeline = createKernel(device, `${conv ? "conv" : "gemm"} ${m}x${n}x${k} (${elem})`, shaderSrc, "main", {
      tile_m: m,
      tile_n: n,
      tile_k: k,
      conv: conv ? 1 : 0,
    }, elem);
    this.dummy = device.createBuffer({ label: "gemm unused operand", size: 16, usage: GPUBufferUsage.STORAGE });
  }

  /**
   * Validates a product and returns its dispatch, unbound: bindings 1..5 are A, B, bias, residual and C (an
   * unused bias or residual is bound to {@linkcode GemmKernel.unused}). `geometry` fills the params after
   * (m, n, k, flags); `aElems` is how many elements A must hold.
   */
  prepare(
    shape: { m: number; n: number; k: number },
    geometry: number[],
    opts: { bias?: boolean; residual?: boolean; activation?: GemmActivation },
    batch: GemmBatch = { count: 1, a: 0, b: 0, c: 0 },
  ): KernelCall {
    const { m, n, k } = shape;
    for (const [key, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`GEMM ${key} must be a positive integer, got ${v}`);
    }
    if (
      !Number.isInteger(batch.count) || batch.count < 1 ||
      batch.count > this.device.limits.maxComputeWorkgroupsPerDimension
    ) {
      throw new RangeError(`GEMM batch must be a positive integer within the device limit, got ${batch.count}`);
    }
    const act = ACT[opts.activation ?? "none"];
    if (act === undefined) {
      throw new RangeError(`GEMM activation "${opts.activation}" is not one of ${Object.keys(ACT)}`);
    }
    const flags = (opts.bias ? 1 : 0) | (opts.residual ? 2 : 0) | (act << 8);
    const g = [...geometry, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 10);
    return {
      pipeline: this.pipeline,
      label: `${this.conv ? "conv" : "gemm"} ${m}x${n}x${k}${batch.count > 1 ? ` x${batch.count}` : ""}`,
      params: new Uint8Array(new Uint32Array([m, n, k, flags, ...g, batch.a, batch.b, batch.c, 0, 0, 0]).buffer),
      groups: [Math.ceil(n / this.tiles.n), Math.ceil(m / this.tiles.m), batch.count],
      flops: 2 * m * n * k * batch.count,
    };
  }

  /** The buffer bound to an unused bias or residual. */
  get unused(): GPUBuffer {
    return this.dummy;
  }

  /**
   * Validates, then encodes and submits one dispatch into a new output buffer. `geometry` fills the params after
   * (m, n, k, flags); `aElems` is how many elements A must hold.
   */
  protected dispatch(
    a: GPUBuffer,
    b: GPUBuffer,
    shape: { m: number; n: number; k: number },
    geometry: number[],
    opts: GemmEpilogue,
    aElems: number,
    batch?: GemmBatch,
  ): GPUBuffer {
    const call = this.prepare(shape, geometry, {
      bias: !!opts.bias,
      residual: !!opts.residual,
      activation: opts.activation,
    }, batch);
    const { m, n, k } = shape;
    const count = batch?.count ?? 1;
    const last = (stride: number, elems: number) => (count - 1) * stride + elems;
    const eb = elemBytes(this.elem);
    const need: [string, GPUBuffer | undefined, number][] = [
      ["A", a, last(batch?.a ?? 0, aElems)],
      ["B", b, last(batch?.b ?? 0, k * n)],
      ["bias", opts.bias, n],
      ["residual", opts.residual, last(batch?.c ?? 0, m * n)],
    ];
    for (const [what, buf, elems] of need) {
      if (buf && buf.size < elems * eb) {
        throw new RangeError(`GEMM ${what} "${buf.label}" holds ${buf.size} bytes, needs ${elems * eb}`);
      }
    }
    const out = this.device.createBuffer({
      label: call.label,
      size: Math.max(16, Math.ceil((last(batch?.c ?? 0, m * n) * eb) / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    submitCall(this.device, call, [a, b, opts.bias ?? this.dummy, opts.residual ?? this.dummy, out]);
    return out;
  }

  /** Frees the pipeline's own buffer. */
  release(): void {
    this.dummy.destroy();
  }
}

/** Runs `gemm.wgsl` as a plain GEMM: Gemm/MatMul and 1x1 convolutions over NHWC rows. */
export class GpuGemm extends GemmKernel {
  /**
   * @param device The device.
   * @param elem Element type of the tensors; f16 needs `shader-f16`. Accumulation is f32 either way.
   * @param tiles Tile sizes; validated against the device's limits before the pipeline is built.
   */
  constructor(device: GPUDevice, elem: ElemType, tiles: GemmTiles = DEFAULT_GEMM_TILES) {
    super(device, elem, tiles, false);
  }

  /**
   * Computes C into a new buffer and submits the work.
   *
   * @param a A, [m, k] row-major.
   * @param b B, [k, n] row-major.
   * @param shape The sizes.
   * @param opts Bias [n], residual [m, n], activation.
   * @param batch Several products at once (MatMul's leading dims), with their strides.
   * @returns A STORAGE | COPY_SRC buffer of m * n elements (per product).
   */
  run(
    a: GPUBuffer,
    b: GPUBuffer,
    shape: { m: number; n: number; k: number },
    opts: GemmEpilogue = {},
    batch?: GemmBatch,
  ): GPUBuffer {
    return this.dispatch(a, b, shape, [], opts, shape.m * shape.k, batch);
  }
}
