/**
 * GPU distribution shifts (see `shift.wgsl`): renders a shift at a severity on a batch of RGBA8 images, in f32 or
 * f16 arithmetic, and reads all results back with one round trip.
 *
 * @module
 */
import shaderSrc from "./shift.wgsl" with { type: "text" };
import type { ElemType } from "./_specialize.ts";
import { createKernel, encodeDispatch } from "./_dispatch.ts";
import type { RgbaImage } from "../lib/image/decode.ts";
import { imageSeed, type ShiftName, shiftParams } from "../lib/shift/params.ts";
import { createBufferWith } from "../lib/gpu/readback.ts";

/** Renders shifts on one device. */
export class GpuShift {
  private readonly pipelines: Record<"pointwise" | "blur_h" | "blur_v", GPUComputePipeline>;

  /**
   * Builds the pipelines for one arithmetic precision.
   *
   * @example Sketch two images at severity 1
   * ```ts ignore
   * const shift = new GpuShift(device, "f32");
   * const [a, b] = await shift.render([imgA, imgB], "sketch", 1, 0);
   * ```
   * @param device The device.
   * @param elem Arithmetic precision; f16 needs `shader-f16`.
   * @param wg Workgroup shape.
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType, private readonly wg = { x: 16, y: 16 }) {
    const make = (entry: string) =>
      createKernel(device, `shift ${entry} (${elem})`, shaderSrc, entry, { wg_x: wg.x, wg_y: wg.y }, elem);
    this.pipelines = { pointwise: make("pointwise"), blur_h: make("blur_h"), blur_v: make("blur_v") };
  }

  /**
   * Renders `shift` at `severity` on every image.
   *
   * @param images RGBA8 images (any sizes).
   * @param shift The shift.
   * @param severity 1..5.
   * @param seed The run's seed; image i's noise uses `imageSeed(seed, first + i)`.
   * @param first Position of the first image in the run (for the seeds).
   * @returns The shifted images, in order.
   */
  async render(
    images: readonly RgbaImage[],
    shift: ShiftName,
    severity: number,
    seed: number,
    first = 0,
  ): Promise<RgbaImage[]> {
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    for (const img of images) {
      if (img.width * img.height * 16 > maxBinding) {
        throw new RangeError(`Image ${img.width}x${img.height} is over this device's binding limit for shifts`);
      }
    }
    const sizes = images.map((img) => Math.ceil((img.width * img.height * 4) / 256) * 256);
    const total = sizes.reduce((a, b) => a + b, 0);
    const staging = this.device.createBuffer({
      label: `shift ${shift} readback`,
      size: Math.max(4, total),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const transient: GPUBuffer[] = [];
    try {
      const enc = this.device.createCommandEncoder({ label: `shift ${shift} ${severity}` });
      let offset = 0;
      images.forEach((img, i) => {
        const p = shiftParams(shift, severity, img.width, img.height);
        const params = new ArrayBuffer(48);
        new Uint32Array(params, 0, 8).set([img.width, img.height, p.op, imageSeed(seed, first + i), p.k]);
        new Float32Array(params, 32, 4).set([p.a, p.b, p.c, p.d]);
        const tag = `shift ${shift} ${severity} image ${first + i}`;
        const paramBuf = createBufferWith(this.device, `${tag} params`, new Uint8Array(params), GPUBufferUsage.UNIFORM);
        const src = createBufferWith(this.device, `${tag} source`, img.data, GPUBufferUsage.STORAGE);
        const out = this.device.createBuffer({
          label: `${tag} output`,
          size: sizes[i]!,
          usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
        });
        transient.push(paramBuf, src, out);
        const groups: [number, number] = [Math.ceil(img.width / this.wg.x), Math.ceil(img.height / this.wg.y)];
        const pass = enc.beginComputePass({ label: tag });
        if (p.op >= 5) {
          const tmp = this.device.createBuffer({
            label: `${tag} blur rows`,
            size: img.width * img.height * 16,
            usage: GPUBufferUsage.STORAGE,
          });
          transient.push(tmp);
          encodeDispatch(this.device, pass, this.pipelines.blur_h, tag, [paramBuf, src, tmp], groups);
          encodeDispatch(this.device, pass, this.pipelines.blur_v, tag, [paramBuf, src, tmp, out], groups);
        } else {
          encodeDispatch(this.device, pass, this.pipelines.pointwise, tag, [paramBuf, src, [3, out]], groups);
        }
        pass.end();
        enc.copyBufferToBuffer(out, 0, staging, offset, sizes[i]!);
        offset += sizes[i]!;
      });
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const all = new Uint8Array(staging.getMappedRange());
      let o = 0;
      return images.map((img, i) => {
        const data = all.slice(o, o + img.width * img.height * 4);
        o += sizes[i]!;
        return { width: img.width, height: img.height, data };
      });
    } finally {
      for (const b of transient) b.destroy();
      staging.destroy();
    }
  }
}
