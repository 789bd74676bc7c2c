/**
 * GPU cosine similarity [B,D] x [C,D] -> [B,C] (see `cosine.wgsl`).
 *
 * @module
 */
import shaderSrc from "./cosine.wgsl" with { type: "text" };
import { elemBytes, type ElemType, specialize } from "./_specialize.ts";
import { createBufferWith } from "../lib/gpu/readback.ts";

/** Runs `cosine.wgsl`. */
export class GpuCosine {
  private readonly pipeline: GPUComputePipeline;
  private static readonly WG = { x: 16, y: 4 };

  /**
   * @example Similarities of image and text embeddings already on the GPU
   * ```ts ignore
   * const cos = new GpuCosine(device, "f32");
   * const sims = cos.run(imageEmb, textEmb, { b: 10, c: 10, d: 1024 });
   * ```
   * @param device The device.
   * @param elem Element type of the inputs; f16 needs `shader-f16`.
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType) {
    if (elem === "f16" && !device.features.has("shader-f16")) {
      throw new TypeError("f16 cosine similarity needs the shader-f16 feature, which this device lacks");
    }
    this.pipeline = device.createComputePipeline({
      label: `cosine (${elem})`,
      layout: "auto",
      compute: {
        module: device.createShaderModule({ label: `cosine (${elem})`, code: specialize(shaderSrc, elem) }),
        entryPoint: "main",
        constants: { wg_x: GpuCosine.WG.x, wg_y: GpuCosine.WG.y },
      },
    });
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
    const enc = this.device.createCommandEncoder({ label: "cosine" });
    const pass = enc.beginComputePass({ label: "cosine" });
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(
      0,
      this.device.createBindGroup({
        label: "cosine",
        layout: this.pipeline.getBindGroupLayout(0),
        entries: [params, a, t, out].map((buffer, binding) => ({ binding, resource: { buffer } })),
      }),
    );
    pass.dispatchWorkgroups(Math.ceil(c / GpuCosine.WG.x), Math.ceil(b / GpuCosine.WG.y));
    pass.end();
    this.device.queue.submit([enc.finish()]);
    params.destroy();
    return out;
  }
}
