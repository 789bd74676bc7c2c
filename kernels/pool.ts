/**
 * GPU pooling over NHWC activations (see `pool.wgsl`): MaxPool, AveragePool and GlobalAveragePool for the WGSL
 * engine (issue 18).
 *
 * @module
 */
import shaderSrc from "./pool.wgsl" with { type: "text" };
import { elemBytes, type ElemType } from "./_specialize.ts";
import { createKernel, groups1d, type KernelCall, submitCall } from "./_dispatch.ts";
import { checkWindow, convOutput, type Window } from "./conv2d.ts";

/** A pooling window (ONNX attributes; symmetric padding). */
export interface PoolShape extends Window {
  /** Images and channels. */
  n: number;
  c: number;
}

/** Output height and width of a pooling: the same sliding window as a convolution's. */
export { convOutput as poolOutput } from "./conv2d.ts";

/** Runs `pool.wgsl`. */
export class GpuPool {
  private readonly pipeline: GPUComputePipeline;

  /**
   * @example ResNet's stem max-pool and its global average pool, on NHWC buffers already on the GPU
   * ```ts ignore
   * const pool = new GpuPool(device, "f32");
   * const y = pool.run(x, { n: 8, h: 112, w: 112, c: 64, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 }, "max");
   * const g = pool.global(z, { n: 8, h: 7, w: 7, c: 2048 });
   * ```
   * @param device The device.
   * @param elem Element type; f16 needs `shader-f16`. Accumulation is f32 either way.
   * @param wg Workgroup size (override constant).
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType, readonly wg = 256) {
    if (!Number.isInteger(wg) || wg < 1 || wg > device.limits.maxComputeInvocationsPerWorkgroup) {
      throw new RangeError(
        `pool workgroup size ${wg} is outside 1..${device.limits.maxComputeInvocationsPerWorkgroup}`,
      );
    }
    this.pipeline = createKernel(device, `pool (${elem})`, shaderSrc, "main", { wg }, elem);
  }

  /**
   * Pools into a new buffer and submits the work.
   *
   * @param x The input, NHWC.
   * @param s The window.
   * @param mode Max or average.
   * @param countIncludePad For average: divide by the whole window, padding included.
   * @returns A STORAGE | COPY_SRC buffer of N * OH * OW * C elements.
   */
  run(x: GPUBuffer, s: PoolShape, mode: "max" | "average", countIncludePad = false): GPUBuffer {
    const call = this.prepare(s, mode, countIncludePad);
    const eb = elemBytes(this.elem);
    if (x.size < s.n * s.h * s.w * s.c * eb) {
      throw new RangeError(`Pool input "${x.label}" holds ${x.size} bytes, needs ${s.n * s.h * s.w * s.c * eb}`);
    }
    const { oh, ow } = convOutput(s);
    const out = this.device.createBuffer({
      label: call.label,
      size: Math.max(16, Math.ceil((s.n * oh * ow * s.c * eb) / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    submitCall(this.device, call, [x, out]);
    return out;
  }

  /**
   * Validates a pooling and returns its dispatch, unbound (bindings 1, 2: X, Y, both NHWC).
   *
   * @param s The window.
   * @param mode Max or average.
   * @param countIncludePad For average: divide by the whole window, padding included.
   * @returns The call.
   */
  prepare(s: PoolShape, mode: "max" | "average", countIncludePad = false): KernelCall {
    const { oh, ow } = checkWindow("Pool", s);
    if (s.ph >= s.kh || s.pw >= s.kw) {
      throw new RangeError(`Pool padding ${s.ph},${s.pw} must be below the window ${s.kh}x${s.kw}`);
    }
    const total = s.n * oh * ow * s.c;
    const params = new Uint32Array([
      total,
      s.h,
      s.w,
      s.c,
      oh,
      ow,
      s.kh,
      s.kw,
      s.sh,
      s.sw,
      s.ph,
      s.pw,
      mode === "max" ? 0 : 1,
      countIncludePad ? 1 : 0,
      0,
      0,
    ]);
    return {
      pipeline: this.pipeline,
      label: `${mode} pool ${s.kh}x${s.kw}`,
      params: new Uint8Array(params.buffer),
      groups: groups1d(Math.ceil(total / this.wg)),
    };
  }

  /** GlobalAveragePool: the average over each image's H x W, giving [N, 1, 1, C]. */
  global(x: GPUBuffer, s: { n: number; h: number; w: number; c: number }): GPUBuffer {
    return this.run(x, { ...s, kh: s.h, kw: s.w, sh: 1, sw: 1, ph: 0, pw: 0 }, "average");
  }
}
