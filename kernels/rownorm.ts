/**
 * Row-wise softmax and LayerNorm on the GPU (see `rownorm.wgsl`): the WGSL engine's Softmax and
 * LayerNormalization over the last axis (issue 18).
 *
 * @module
 */
import shaderSrc from "./rownorm.wgsl" with { type: "text" };
import { elemBytes, type ElemType } from "./_specialize.ts";
import { createKernel, groups1d, type KernelCall, submitCall } from "./_dispatch.ts";

/**
 * Invocations per row for rows of `d` elements: the power of two nearest above d / 2 (each lane folds about two
 * elements), at most the workgroup.
 *
 * @example
 * ```ts
 * import { lanesFor } from "./rownorm.ts";
 * if (lanesFor(77, 256) !== 64 || lanesFor(16, 256) !== 8 || lanesFor(2048, 256) !== 256 || lanesFor(1, 256) !== 1) {
 *   throw new Error();
 * }
 * ```
 */
export function lanesFor(d: number, wg: number): number {
  let lanes = 1;
  while (lanes < Math.ceil(d / 2) && lanes < wg) lanes *= 2;
  return lanes;
}

/** Runs `rownorm.wgsl`. */
export class GpuRowNorm {
  private readonly pipelines = new Map<number, GPUComputePipeline>();
  private readonly dummy: GPUBuffer;

  /**
   * @example Softmax over attention scores, then a LayerNorm, on buffers already on the GPU
   * ```ts ignore
   * const rn = new GpuRowNorm(device, "f32");
   * const probs = rn.softmax(scores, { rows: 8 * 50, d: 50 });
   * const h = rn.layerNorm(x, gamma, beta, { rows: 77, d: 512, eps: 1e-5 });
   * ```
   * @param device The device.
   * @param elem Element type; f16 needs `shader-f16`. Accumulation is f32 either way.
   * @param wg Workgroup size, a power of two within the device's limit.
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType, readonly wg = 256) {
    if (
      !Number.isInteger(wg) || wg < 1 || (wg & (wg - 1)) !== 0 || wg > device.limits.maxComputeInvocationsPerWorkgroup
    ) {
      throw new RangeError(`row-norm workgroup size must be a power of two within the device limit, got ${wg}`);
    }
    this.pipelineFor(wg);
    this.dummy = device.createBuffer({ label: "rownorm unused operand", size: 16, usage: GPUBufferUsage.STORAGE });
  }

  /** Softmax of each row of x [rows, d] into a new buffer. */
  softmax(x: GPUBuffer, shape: { rows: number; d: number }): GPUBuffer {
    return this.dispatch(x, this.dummy, this.dummy, shape, 0, 0);
  }

  /** LayerNorm of each row of x [rows, d] with gamma and beta [d], into a new buffer. */
  layerNorm(
    x: GPUBuffer,
    gamma: GPUBuffer,
    beta: GPUBuffer,
    shape: { rows: number; d: number; eps: number },
  ): GPUBuffer {
    const eb = elemBytes(this.elem);
    for (const [what, b] of [["gamma", gamma], ["beta", beta]] as const) {
      if (b.size < shape.d * eb) {
        throw new RangeError(`LayerNorm ${what} "${b.label}" holds ${b.size} bytes, needs ${shape.d * eb}`);
      }
    }
    return this.dispatch(x, gamma, beta, shape, 1, shape.eps);
  }

  private dispatch(
    x: GPUBuffer,
    gamma: GPUBuffer,
    beta: GPUBuffer,
    shape: { rows: number; d: number },
    mode: number,
    eps: number,
  ): GPUBuffer {
    const call = this.prepare(shape, mode ? "layernorm" : "softmax", eps);
    const { rows, d } = shape;
    const eb = elemBytes(this.elem);
    if (x.size < rows * d * eb) {
      throw new RangeError(`row-norm input "${x.label}" holds ${x.size} bytes, needs ${rows * d * eb}`);
    }
    const out = this.device.createBuffer({
      label: call.label,
      size: Math.max(16, Math.ceil((rows * d * eb) / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    submitCall(this.device, call, [x, gamma, beta, out]);
    return out;
  }

  /**
   * Validates a softmax or LayerNorm over rows and returns its dispatch, unbound (bindings 1..4: X, gamma, beta,
   * Y; softmax binds {@linkcode GpuRowNorm.unused} for gamma and beta).
   *
   * @param shape Rows and row length.
   * @param mode Softmax or LayerNorm.
   * @param eps LayerNorm's epsilon.
   * @returns The call.
   */
  prepare(shape: { rows: number; d: number }, mode: "softmax" | "layernorm", eps = 0): KernelCall {
    const { rows, d } = shape;
    for (const [k, v] of Object.entries({ rows, d })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`row-norm ${k} must be a positive integer, got ${v}`);
    }
    if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError(`LayerNorm eps must be finite and >= 0, got ${eps}`);
    const raw = new ArrayBuffer(16);
    new Uint32Array(raw, 0, 3).set([rows, d, mode === "softmax" ? 0 : 1]);
    new Float32Array(raw, 12, 1)[0] = eps;
    const lanes = lanesFor(d, this.wg);
    return {
      pipeline: this.pipelineFor(lanes),
      label: `${mode} ${rows}x${d}`,
      params: new Uint8Array(raw),
      groups: groups1d(Math.ceil(rows / (this.wg / lanes))),
    };
  }

  private pipelineFor(lanes: number): GPUComputePipeline {
    let p = this.pipelines.get(lanes);
    if (!p) {
      p = createKernel(
        this.device,
        `rownorm ${lanes} lanes (${this.elem})`,
        shaderSrc,
        "main",
        { wg: this.wg, lanes },
        this.elem,
      );
      this.pipelines.set(lanes, p);
    }
    return p;
  }

  /** The buffer bound to softmax's unused gamma and beta. */
  get unused(): GPUBuffer {
    return this.dummy;
  }

  /** Frees the kernel's own buffer. */
  release(): void {
    this.dummy.destroy();
  }
}
