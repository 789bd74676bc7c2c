/**
 * GPU cosine similarity [B,D] x [C,D] -> [B,C] (see `cosine.wgsl`).
 *
 * @module
 */
import shaderSrc from "./cosine.wgsl" with { type: "text" };
import { elemBytes, type ElemType } from "./_specialize.ts";
import { createKernel, submitDispatch } from "./_dispatch.ts";
import { createBufferWith } from "../lib/gpu/readback.ts";

/** Runs `cosine.wgsl`. */
export class GpuCosine {
  private readonly pipeline: GPUComputePipeline;
  private readonly wg: { x: number; y: number };

  /**
   * @example Similarities of image and text embeddings already on the GPU
   * ```ts ignore
   * const cos = new GpuCosine(device, "f32");
   * const sims = cos.run(imageEmb, textEmb, { b: 10, c: 10, d: 1024 });
   * ```
   * @param device The device.
   * @param elem Element type of the inputs; f16 needs `shader-f16`. Accumulation is f32 either way.
   * @param wg Workgroup shape (override constants wg_x, wg_y); see docs/BENCHMARKS.md for how it was chosen.
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType, wg = { x: 16, y: 4 }) {
    this.wg = wg;
    const { x, y } = wg;
    this.pipeline = createKernel(device, `cosine (${elem})`, shaderSrc, "main", { wg_x: x, wg_y: y }, elem);
  }

  /**
   * Computes the similarities into a new f32 buffer and submits the work.
   *
   * @param a Rows to compare, [b, d].
   * @param t Rows to compare against, [c, d].
   * @param shape The sizes.
   * @returns A STORAGE | COPY_SRC buffer of b * c f32.
   */
  run(a: GPUBuffer, t: GPUBuffer, shape: { b: number; c: number; d: number }): GPUBuffer {
    const { b, c, d } = shape;
    for (const [k, v] of Object.entries(shape)) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Cosine ${k} must be a positive integer, got ${v}`);
    }
    const eb = elemBytes(this.elem);
    if (a.size < b * d * eb) {
      throw new RangeError(`Cosine input "${a.label}" holds ${a.size} bytes, needs ${b * d * eb}`);
    }
    if (t.size < c * d * eb) {
      throw new RangeError(`Cosine input "${t.label}" holds ${t.size} bytes, needs ${c * d * eb}`);
    }
    const out = this.device.createBuffer({
      label: `cosine ${b}x${c}`,
      size: b * c * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
    });
    const params = createBufferWith(
      this.device,
      "cosine params",
      new Uint32Array([b, c, d, 0]),
      GPUBufferUsage.UNIFORM,
    );
    const { x, y } = this.wg;
    submitDispatch(this.device, this.pipeline, "cosine", [params, a, t, out], [Math.ceil(c / x), Math.ceil(b / y)]);
    params.destroy();
    return out;
  }
}
