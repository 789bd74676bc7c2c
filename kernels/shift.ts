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
   * @param wg Workgroup shape, and `groupBytes`: the most bytes one group of images may put in a shared buffer
   *   (default: the device's largest buffer).
   */
  constructor(
    readonly device: GPUDevice,
    readonly elem: ElemType,
    private readonly wg: { x: number; y: number; groupBytes?: number } = { x: 16, y: 16 },
  ) {
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
    const limits = this.device.limits;
    for (const img of images) {
      if (img.width * img.height * 16 > limits.maxStorageBufferBindingSize) {
        throw new RangeError(`Image ${img.width}x${img.height} is over this device's binding limit for shifts`);
      }
    }
    // Every image gets a slot in shared buffers (params, source, blur rows, output), aligned for binding offsets;
    // images go in groups whose buffers fit the device, each group with one upload and one readback.
    const align = Math.max(256, limits.minUniformBufferOffsetAlignment, limits.minStorageBufferOffsetAlignment);
    const up = (n: number) => Math.ceil(n / align) * align;
    const slot = (img: RgbaImage) => ({ pixels: up(img.width * img.height * 4), tmp: up(img.width * img.height * 16) });
    const groups: number[][] = [];
    let cur: number[] = [], pixels = 0, tmp = 0;
    images.forEach((img, i) => {
      const s = slot(img);
      const most = Math.min(this.wg.groupBytes ?? Infinity, limits.maxBufferSize);
      if (cur.length && (pixels + s.pixels > most || tmp + s.tmp > most)) {
        groups.push(cur);
        cur = [];
        pixels = tmp = 0;
      }
      cur.push(i);
      pixels += s.pixels;
      tmp += s.tmp;
    });
    if (cur.length) groups.push(cur);
    const out: RgbaImage[] = [];
    for (const group of groups) {
      out.push(
        ...await this.renderGroup(group.map((i) => images[i]!), shift, severity, seed, first + group[0]!, align),
      );
    }
    return out;
  }

  /** Shared buffers, reused between calls and grown when a group needs more. */
  private arenas: Partial<Record<"params" | "src" | "tmp" | "out", GPUBuffer>> = {};

  private arena(name: "params" | "src" | "tmp" | "out", bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const have = this.arenas[name];
    if (have && have.size >= bytes) return have;
    have?.destroy();
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
    return (this.arenas[name] = this.device.createBuffer({ label: `shift ${name} (${this.elem})`, size, usage }));
  }

  /** Frees the shared buffers (they are rebuilt on the next render). */
  release(): void {
    for (const b of Object.values(this.arenas)) b?.destroy();
    this.arenas = {};
  }

  private async renderGroup(
    images: readonly RgbaImage[],
    shift: ShiftName,
    severity: number,
    seed: number,
    first: number,
    align: number,
  ): Promise<RgbaImage[]> {
    const up = (n: number) => Math.ceil(n / align) * align;
    const offsets = { params: [] as number[], pixels: [] as number[], tmp: [] as number[] };
    let pixelBytes = 0, tmpBytes = 0;
    for (const img of images) {
      offsets.params.push(offsets.params.length * align);
      offsets.pixels.push(pixelBytes);
      offsets.tmp.push(tmpBytes);
      pixelBytes += up(img.width * img.height * 4);
      tmpBytes += up(img.width * img.height * 16);
    }
    const params = new ArrayBuffer(images.length * align);
    const pixels = new Uint8Array(pixelBytes);
    const plist = images.map((img, i) => {
      const p = shiftParams(shift, severity, img.width, img.height);
      new Uint32Array(params, offsets.params[i]!, 8).set([
        img.width,
        img.height,
        p.op,
        imageSeed(seed, first + i),
        p.k,
      ]);
      new Float32Array(params, offsets.params[i]! + 32, 4).set([p.a, p.b, p.c, p.d]);
      pixels.set(img.data, offsets.pixels[i]!);
      return p;
    });
    const blurs = plist.some((p) => p.op >= 5);
    const paramBuf = this.arena("params", params.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const src = this.arena("src", pixelBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    const outBuf = this.arena("out", pixelBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const tmpBuf = blurs ? this.arena("tmp", tmpBytes, GPUBufferUsage.STORAGE) : undefined;
    this.device.queue.writeBuffer(paramBuf, 0, params);
    this.device.queue.writeBuffer(src, 0, pixels);
    const staging = this.device.createBuffer({
      label: `shift ${shift} readback`,
      size: pixelBytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      const enc = this.device.createCommandEncoder({ label: `shift ${shift} ${severity}` });
      images.forEach((img, i) => {
        const bytes = img.width * img.height * 4;
        const tag = `shift ${shift} ${severity} image ${first + i}`;
        const groups: [number, number] = [Math.ceil(img.width / this.wg.x), Math.ceil(img.height / this.wg.y)];
        const bind = {
          params: { buffer: paramBuf, offset: offsets.params[i]!, size: 48 },
          src: { buffer: src, offset: offsets.pixels[i]!, size: bytes },
          out: { buffer: outBuf, offset: offsets.pixels[i]!, size: bytes },
        };
        const pass = enc.beginComputePass({ label: tag });
        if (plist[i]!.op >= 5) {
          const t = { buffer: tmpBuf!, offset: offsets.tmp[i]!, size: bytes * 4 };
          const h: [number, GPUBufferBinding][] = [[0, bind.params], [1, bind.src], [2, t]];
          encodeDispatch(this.device, pass, this.pipelines.blur_h, tag, h, groups);
          encodeDispatch(this.device, pass, this.pipelines.blur_v, tag, [...h, [3, bind.out]], groups);
        } else {
          const b: [number, GPUBufferBinding][] = [[0, bind.params], [1, bind.src], [3, bind.out]];
          encodeDispatch(this.device, pass, this.pipelines.pointwise, tag, b, groups);
        }
        pass.end();
      });
      enc.copyBufferToBuffer(outBuf, 0, staging, 0, pixelBytes);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const all = new Uint8Array(staging.getMappedRange());
      return images.map((img, i) => ({
        width: img.width,
        height: img.height,
        data: all.slice(offsets.pixels[i]!, offsets.pixels[i]! + img.width * img.height * 4),
      }));
    } finally {
      staging.destroy();
    }
  }
}
