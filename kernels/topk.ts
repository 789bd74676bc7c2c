/**
 * GPU top-k per row, k <= 10 (see `topk.wgsl`): only k indices and values per row leave the GPU.
 *
 * @module
 */
import shaderSrc from "./topk.wgsl" with { type: "text" };
import { elemBytes, type ElemType } from "./_specialize.ts";
import { createKernel, submitDispatch } from "./_dispatch.ts";
import { createBufferWith, readBuffer } from "../lib/gpu/readback.ts";

/** Largest k the kernel supports. */
export const MAX_TOP_K = 10;

/** Runs `topk.wgsl`. */
export class GpuTopK {
  private readonly pipeline: GPUComputePipeline;
  private static readonly WG = 64;

  /**
   * @example Top-5 of 1000 probabilities per image
   * ```ts ignore
   * const topk = new GpuTopK(device);
   * const { indices, values } = await topk.read(probs, { rows: 10, n: 1000, k: 5 });
   * ```
   * @param device The device.
   * @param elem Element type of the values; f16 needs `shader-f16`.
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType = "f32") {
    this.pipeline = createKernel(device, `top-k (${elem})`, shaderSrc, "main", { wg: GpuTopK.WG }, elem);
  }

  /**
   * Computes the top-k of each row into new buffers and submits the work.
   *
   * @param values [rows, n] of the element type.
   * @param opts Sizes and k (1..10, at most n).
   * @returns Buffers of rows * k u32 indices and rows * k f32 values.
   */
  run(values: GPUBuffer, opts: { rows: number; n: number; k: number }): { indices: GPUBuffer; values: GPUBuffer } {
    const { rows, n, k } = opts;
    if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`Top-k rows must be a positive integer, got ${rows}`);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Top-k n must be a positive integer, got ${n}`);
    if (!Number.isInteger(k) || k < 1 || k > Math.min(MAX_TOP_K, n)) {
      throw new RangeError(`Top-k k must be an integer in 1..${Math.min(MAX_TOP_K, n)}, got ${k}`);
    }
    const need = rows * n * elemBytes(this.elem);
    if (values.size < need) {
      throw new RangeError(`Top-k input "${values.label}" holds ${values.size} bytes, needs ${need}`);
    }
    const params = createBufferWith(
      this.device,
      "top-k params",
      new Uint32Array([rows, n, k, 0]),
      GPUBufferUsage.UNIFORM,
    );
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    const indices = this.device.createBuffer({ label: `top-${k} indices`, size: rows * k * 4, usage });
    const out = this.device.createBuffer({ label: `top-${k} values`, size: rows * k * 4, usage });
    submitDispatch(this.device, this.pipeline, "top-k", [params, values, indices, out], [rows]);
    params.destroy();
    return { indices, values: out };
  }

  /**
   * Runs and reads back the k indices and values per row.
   *
   * @param values [rows, n] of the element type.
   * @param opts Sizes and k.
   * @returns Row-major [rows, k] indices and values.
   */
  async read(
    values: GPUBuffer,
    opts: { rows: number; n: number; k: number },
  ): Promise<{ indices: Uint32Array; values: Float32Array }> {
    const out = this.run(values, opts);
    try {
      const size = opts.rows * opts.k * 4;
      const [i, v] = await Promise.all([
        readBuffer(this.device, out.indices, 0, size),
        readBuffer(this.device, out.values, 0, size),
      ]);
      return { indices: new Uint32Array(i), values: new Float32Array(v) };
    } finally {
      out.indices.destroy();
      out.values.destroy();
    }
  }
}
