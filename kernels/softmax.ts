/**
 * GPU softmax with a temperature over selected columns (see `softmax.wgsl`).
 *
 * @module
 */
import shaderSrc from "./softmax.wgsl" with { type: "text" };
import { elemBytes, type ElemType } from "./_specialize.ts";
import { createKernel, submitDispatch } from "./_dispatch.ts";
import { createBufferWith } from "../lib/gpu/readback.ts";

/** Runs `softmax.wgsl`. */
export class GpuSoftmax {
  private readonly pipeline: GPUComputePipeline;
  private static readonly WG = 64;

  /**
   * @example Probabilities over a label set from 1000-way logits
   * ```ts ignore
   * const sm = new GpuSoftmax(device);
   * const probs = sm.run(logits, { rows: 10, n: 1000, scale: 1, columns: [22, 29, 39] });
   * ```
   * @param device The device.
   * @param elem Element type of the logits; f16 needs `shader-f16`. The math and the output are f32.
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType = "f32") {
    this.pipeline = createKernel(device, `softmax (${elem})`, shaderSrc, "main", { wg: GpuSoftmax.WG }, elem);
  }

  /**
   * Computes `softmax(scale * logits[:, columns])` per row into a new buffer and submits the work.
   *
   * @param logits [rows, n] of the element type.
   * @param opts Sizes, the temperature `scale`, and the selected `columns` (all when omitted).
   * @returns A STORAGE | COPY_SRC buffer of rows * columns.length f32.
   */
  run(logits: GPUBuffer, opts: { rows: number; n: number; scale: number; columns?: readonly number[] }): GPUBuffer {
    const { rows, n, scale } = opts;
    if (!Number.isInteger(rows) || rows < 1) {
      throw new RangeError(`Softmax rows must be a positive integer, got ${rows}`);
    }
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`Softmax n must be a positive integer, got ${n}`);
    if (!Number.isFinite(scale)) throw new RangeError(`Softmax scale must be finite, got ${scale}`);
    const columns = opts.columns ?? Array.from({ length: n }, (_, i) => i);
    if (columns.length === 0) throw new RangeError("Softmax needs at least one column");
    for (const c of columns) {
      if (!Number.isInteger(c) || c < 0 || c >= n) throw new RangeError(`Softmax column ${c} is outside 0..${n - 1}`);
    }
    const need = rows * n * elemBytes(this.elem);
    if (logits.size < need) {
      throw new RangeError(`Softmax input "${logits.label}" holds ${logits.size} bytes, needs ${need}`);
    }
    const m = columns.length;
    const params = new ArrayBuffer(16);
    new Uint32Array(params, 0, 3).set([rows, n, m]);
    new Float32Array(params, 12, 1)[0] = scale;
    const paramBuf = createBufferWith(this.device, "softmax params", new Uint8Array(params), GPUBufferUsage.UNIFORM);
    const idxBuf = createBufferWith(this.device, "softmax columns", new Uint32Array(columns), GPUBufferUsage.STORAGE);
    const out = this.device.createBuffer({
      label: `softmax ${rows}x${m}`,
      size: rows * m * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    submitDispatch(this.device, this.pipeline, "softmax", [paramBuf, logits, idxBuf, out], [rows]);
    paramBuf.destroy();
    idxBuf.destroy();
    return out;
  }
}
