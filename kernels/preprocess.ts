/**
 * GPU preprocessing: decoded RGBA8 images into an NCHW f32 or f16 batch buffer that the model reads directly,
 * at PIL/torchvision parity (see `preprocess.wgsl`). Images of different sizes go into one batch.
 *
 * @module
 */
import shaderSrc from "./preprocess.wgsl" with { type: "text" };
import { elemBytes, type ElemType } from "./_specialize.ts";
import { createKernel, encodeDispatch } from "./_dispatch.ts";
import type { RgbaImage } from "../lib/image/decode.ts";
import { planPreprocess, type Recipe } from "../lib/preprocess/recipe.ts";
import { createBufferWith } from "../lib/gpu/readback.ts";

/** Tunables of the kernel (WGSL override constants). */
export interface PreprocessTunables {
  /** Workgroup width. */
  wgX: number;
  /** Workgroup height. */
  wgY: number;
}

const DEFAULT_TUNABLES: PreprocessTunables = { wgX: 16, wgY: 16 };

/** Runs the preprocessing kernel on one device. */
export class GpuPreprocessor {
  private readonly pipelines: { horizontal: GPUComputePipeline; vertical: GPUComputePipeline };

  /**
   * Builds the pipelines for one element type.
   *
   * @example Preprocess two images into a batch buffer
   * ```ts ignore
   * const pre = new GpuPreprocessor(device, "f32");
   * const out = pre.createBatchBuffer(2, 224, "model input");
   * pre.run([imgA, imgB], CLIP_RECIPE, out);
   * ```
   * @param device The device.
   * @param elem Output element type; f16 needs `shader-f16`.
   * @param tunables Workgroup shape.
   */
  constructor(readonly device: GPUDevice, readonly elem: ElemType, tunables: PreprocessTunables = DEFAULT_TUNABLES) {
    const constants = { wg_x: tunables.wgX, wg_y: tunables.wgY };
    const make = (entryPoint: string) =>
      createKernel(device, `preprocess ${entryPoint} (${elem})`, shaderSrc, entryPoint, constants, elem);
    this.pipelines = { horizontal: make("horizontal"), vertical: make("vertical") };
    this.wg = tunables;
  }

  private readonly wg: PreprocessTunables;

  /**
   * Creates a buffer for `n` preprocessed images, usable as a model input.
   *
   * @param n Batch size.
   * @param crop Crop size.
   * @param label Buffer label.
   * @returns The buffer.
   */
  createBatchBuffer(n: number, crop: number, label: string): GPUBuffer {
    const bytes = n * 3 * crop * crop * elemBytes(this.elem);
    return this.device.createBuffer({
      label,
      size: Math.ceil(bytes / 4) * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  /**
   * Preprocesses `images` into slots `first ..` of `out` and submits the work.
   *
   * @param images Decoded images.
   * @param recipe The recipe.
   * @param out A batch buffer from {@linkcode createBatchBuffer} or any STORAGE buffer large enough.
   * @param first Slot of the first image.
   */
  run(images: readonly RgbaImage[], recipe: Recipe, out: GPUBuffer, first = 0): void {
    const plane = recipe.crop * recipe.crop;
    const imageBytes = 3 * plane * elemBytes(this.elem);
    const need = (first + images.length) * imageBytes;
    if (out.size < need) throw new RangeError(`Output buffer "${out.label}" holds ${out.size} bytes, needs ${need}`);
    const maxBinding = this.device.limits.maxStorageBufferBindingSize;
    if (imageBytes % this.device.limits.minStorageBufferOffsetAlignment !== 0) {
      throw new RangeError(
        `Crop ${recipe.crop} gives images of ${imageBytes} bytes, not a multiple of the offset alignment`,
      );
    }
    const transient: GPUBuffer[] = [];
    const enc = this.device.createCommandEncoder({ label: `preprocess ${recipe.name}` });
    images.forEach((image, i) => {
      const plan = planPreprocess(image.width, image.height, recipe);
      const { h, v } = plan;
      const winW = h.span;
      const winH = v.span;
      if (winW * winH * 4 > maxBinding) {
        throw new RangeError(
          `Image ${image.width}x${image.height} needs a ${winW}x${winH} source window, over this device's binding limit`,
        );
      }
      // Upload only the source window the crop touches.
      const window = new Uint8Array(winW * winH * 4);
      for (let y = 0; y < winH; y++) {
        const s = ((v.first + y) * image.width + h.first) * 4;
        window.set(image.data.subarray(s, s + winW * 4), y * winW * 4);
      }
      const crop = recipe.crop;
      const hOff = 0;
      const vOff = 2 * crop + crop * h.ksize;
      const coeffs = new Int32Array(vOff + 2 * crop + crop * v.ksize);
      coeffs.set(h.start, hOff);
      coeffs.set(h.count, hOff + crop);
      coeffs.set(h.weights, hOff + 2 * crop);
      coeffs.set(v.start, vOff);
      coeffs.set(v.count, vOff + crop);
      coeffs.set(v.weights, vOff + 2 * crop);
      const params = new ArrayBuffer(80);
      // The output is bound one image at a time (so batches may exceed the storage binding limit): base 0.
      new Uint32Array(params, 0, 12).set([
        winW,
        crop,
        crop,
        winH,
        h.ksize,
        v.ksize,
        hOff,
        vOff,
        0,
      ]);
      new Float32Array(params, 48, 8).set([...recipe.mean, 0, ...recipe.std, 1]);
      const tag = `preprocess image ${first + i}`;
      const paramBuf = createBufferWith(this.device, `${tag} params`, new Uint8Array(params), GPUBufferUsage.UNIFORM);
      const srcBuf = createBufferWith(this.device, `${tag} source window`, window, GPUBufferUsage.STORAGE);
      const coeffBuf = createBufferWith(this.device, `${tag} coefficients`, coeffs, GPUBufferUsage.STORAGE);
      const tmpBuf = this.device.createBuffer({
        label: `${tag} horizontal pass`,
        size: winH * crop * 4,
        usage: GPUBufferUsage.STORAGE,
      });
      transient.push(paramBuf, srcBuf, coeffBuf, tmpBuf);
      const pass = enc.beginComputePass({ label: tag });
      const { horizontal, vertical } = this.pipelines;
      encodeDispatch(this.device, pass, horizontal, tag, [paramBuf, srcBuf, coeffBuf, tmpBuf], [
        Math.ceil(crop / this.wg.wgX),
        Math.ceil(winH / this.wg.wgY),
      ]);
      const outRange = { buffer: out, offset: (first + i) * imageBytes, size: imageBytes };
      encodeDispatch(this.device, pass, vertical, tag, [[0, paramBuf], [2, coeffBuf], [3, tmpBuf], [4, outRange]], [
        Math.ceil(crop / this.wg.wgX),
        Math.ceil(crop / this.wg.wgY),
      ]);
      pass.end();
    });
    this.device.queue.submit([enc.finish()]);
    for (const b of transient) b.destroy();
  }
}
