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
import { preprocessCpu } from "../lib/preprocess/cpu.ts";

/** Tunables of the kernel (WGSL override constants). */
export interface PreprocessTunables {
  /** Workgroup width. */
  wgX: number;
  /** Workgroup height. */
  wgY: number;
  /** Largest bytes per binding a group of images may use (default: the device's storage binding limit). */
  groupBytes?: number;
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

  /** Buffers reused between calls (grown when a group needs more): params, windows, coefficients, tmp. */
  private arenas: Partial<Record<"params" | "src" | "coeffs" | "tmp", GPUBuffer>> = {};
  /** Host staging for the windows and coefficients, reused (a batch of 256 photos cuts about 190 MB). */
  private hostWindows = new Uint8Array(0);
  private hostCoeffs = new Int32Array(0);

  private arena(name: "params" | "src" | "coeffs" | "tmp", bytes: number): GPUBuffer {
    const have = this.arenas[name];
    if (have && have.size >= bytes) return have;
    have?.destroy();
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    return (this.arenas[name] = this.device.createBuffer({ label: `preprocess ${name} (${this.elem})`, size, usage }));
  }

  /** Frees the reused buffers (the preprocessor rebuilds them on its next run). */
  release(): void {
    for (const b of Object.values(this.arenas)) b?.destroy();
    this.arenas = {};
    this.hostWindows = new Uint8Array(0);
    this.hostCoeffs = new Int32Array(0);
  }

  /**
   * Preprocesses `images` into slots `first ..` of `out` and submits the work: one upload of the source windows,
   * one of the coefficients and one of the parameters per group of images, and two dispatches (one image per
   * z) per group.
   *
   * @param images Decoded images.
   * @param recipe The recipe.
   * @param out A batch buffer from {@linkcode createBatchBuffer} or any STORAGE buffer large enough.
   * @param first Slot of the first image.
   * @param options `uploadOnly`: cut and upload the windows, coefficients and parameters but dispatch nothing
   *   (for benchmarks that time the upload alone).
   * @returns How many images were too large for the GPU's bindings and were preprocessed on the CPU instead.
   */
  run(
    images: readonly RgbaImage[],
    recipe: Recipe,
    out: GPUBuffer,
    first = 0,
    options: { uploadOnly?: boolean } = {},
  ): number {
    const need = (first + images.length) * 3 * recipe.crop * recipe.crop * elemBytes(this.elem);
    if (out.size < need) throw new RangeError(`Output buffer "${out.label}" holds ${out.size} bytes, needs ${need}`);
    // An image whose source window is over the binding limit (a very large photo) is preprocessed on the CPU,
    // with the same fixed-point arithmetic, and its row written straight into the batch: it never stops a run.
    const maxBinding = Math.min(this.wg.groupBytes ?? Infinity, this.device.limits.maxStorageBufferBindingSize);
    const tooLarge = (im: RgbaImage) => {
      const plan = planPreprocess(im.width, im.height, recipe);
      return plan.h.span * plan.v.span * 4 > maxBinding;
    };
    let fallbacks = 0;
    let runStart = 0;
    for (let i = 0; i <= images.length; i++) {
      if (i < images.length && !tooLarge(images[i]!)) continue;
      if (i > runStart) this.runFitting(images.slice(runStart, i), recipe, out, first + runStart, options);
      if (i < images.length) {
        const plane = 3 * recipe.crop * recipe.crop;
        const row = new Float32Array(plane);
        preprocessCpu(images[i]!, recipe, row, 0);
        const data = this.elem === "f16" ? new Float16Array(row) : row;
        if (!options.uploadOnly) {
          this.device.queue.writeBuffer(
            out,
            (first + i) * plane * elemBytes(this.elem),
            data as Float32Array<ArrayBuffer>,
          );
        }
        fallbacks++;
      }
      runStart = i + 1;
    }
    return fallbacks;
  }

  private runFitting(
    images: readonly RgbaImage[],
    recipe: Recipe,
    out: GPUBuffer,
    first: number,
    options: { uploadOnly?: boolean },
  ): void {
    const crop = recipe.crop;
    const plane = crop * crop;
    const imageBytes = 3 * plane * elemBytes(this.elem);
    const need = (first + images.length) * imageBytes;
    if (out.size < need) throw new RangeError(`Output buffer "${out.label}" holds ${out.size} bytes, needs ${need}`);
    const maxBinding = Math.min(
      this.wg.groupBytes ?? Infinity,
      this.device.limits.maxStorageBufferBindingSize,
    );
    if (imageBytes % this.device.limits.minStorageBufferOffsetAlignment !== 0) {
      throw new RangeError(
        `Crop ${crop} gives images of ${imageBytes} bytes, not a multiple of the offset alignment`,
      );
    }
    const plans = images.map((image) => {
      const plan = planPreprocess(image.width, image.height, recipe);
      const srcBytes = plan.h.span * plan.v.span * 4;
      if (srcBytes > maxBinding) {
        throw new RangeError(
          `Image ${image.width}x${image.height} needs a ${plan.h.span}x${plan.v.span} source window, over this device's binding limit`,
        );
      }
      const coeffCount = 4 * crop + crop * (plan.h.ksize + plan.v.ksize);
      return { image, plan, srcBytes, coeffBytes: coeffCount * 4, tmpBytes: plan.v.span * crop * 4 };
    });
    // Groups of consecutive images whose windows, coefficients, tmp rows and outputs each fit one binding.
    const maxPerGroup = Math.min(this.device.limits.maxComputeWorkgroupsPerDimension, 1024);
    const groups: (typeof plans)[] = [];
    let cur: typeof plans = [];
    const sums = { src: 0, coeff: 0, tmp: 0 };
    for (const pl of plans) {
      const fits = cur.length < maxPerGroup && sums.src + pl.srcBytes <= maxBinding &&
        sums.coeff + pl.coeffBytes <= maxBinding && sums.tmp + pl.tmpBytes <= maxBinding &&
        (cur.length + 1) * imageBytes <= maxBinding;
      if (!fits && cur.length) {
        groups.push(cur);
        cur = [];
        sums.src = sums.coeff = sums.tmp = 0;
      }
      cur.push(pl);
      sums.src += pl.srcBytes;
      sums.coeff += pl.coeffBytes;
      sums.tmp += pl.tmpBytes;
    }
    if (cur.length) groups.push(cur);

    const PARAM_BYTES = 80;
    let slot = first;
    for (const group of groups) {
      const n = group.length;
      const srcTotal = group.reduce((a, g) => a + g.srcBytes, 0);
      const coeffTotal = group.reduce((a, g) => a + g.coeffBytes, 0);
      const tmpTotal = group.reduce((a, g) => a + g.tmpBytes, 0);
      if (this.hostWindows.length < srcTotal) this.hostWindows = new Uint8Array(srcTotal);
      if (this.hostCoeffs.length < coeffTotal / 4) this.hostCoeffs = new Int32Array(coeffTotal / 4);
      const windows = this.hostWindows.subarray(0, srcTotal);
      const coeffs = this.hostCoeffs.subarray(0, coeffTotal / 4);
      const params = new ArrayBuffer(n * PARAM_BYTES);
      let srcOff = 0, coeffOff = 0, tmpOff = 0, maxTmpRows = 0;
      group.forEach(({ image, plan }, z) => {
        const { h, v } = plan;
        const winW = h.span, winH = v.span;
        // Only the source window the crop touches.
        for (let y = 0; y < winH; y++) {
          const s = ((v.first + y) * image.width + h.first) * 4;
          windows.set(image.data.subarray(s, s + winW * 4), srcOff + y * winW * 4);
        }
        const hOff = coeffOff;
        const vOff = hOff + 2 * crop + crop * h.ksize;
        coeffs.set(h.start, hOff);
        coeffs.set(h.count, hOff + crop);
        coeffs.set(h.weights, hOff + 2 * crop);
        coeffs.set(v.start, vOff);
        coeffs.set(v.count, vOff + crop);
        coeffs.set(v.weights, vOff + 2 * crop);
        new Uint32Array(params, z * PARAM_BYTES, 12).set([
          winW,
          crop,
          crop,
          winH,
          h.ksize,
          v.ksize,
          hOff,
          vOff,
          z * 3 * plane,
          srcOff / 4,
          tmpOff / 4,
          0,
        ]);
        new Float32Array(params, z * PARAM_BYTES + 48, 8).set([...recipe.mean, 0, ...recipe.std, 1]);
        srcOff += winW * winH * 4;
        coeffOff = vOff + 2 * crop + crop * v.ksize;
        tmpOff += winH * crop * 4;
        maxTmpRows = Math.max(maxTmpRows, winH);
      });
      const paramBuf = this.arena("params", params.byteLength);
      const srcBuf = this.arena("src", srcTotal);
      const coeffBuf = this.arena("coeffs", coeffTotal);
      const tmpBuf = this.arena("tmp", tmpTotal);
      const q = this.device.queue;
      q.writeBuffer(paramBuf, 0, params);
      q.writeBuffer(srcBuf, 0, windows);
      q.writeBuffer(coeffBuf, 0, coeffs);
      if (options.uploadOnly) {
        slot += n;
        continue;
      }
      const tag = `preprocess images ${slot}..${slot + n - 1}`;
      const enc = this.device.createCommandEncoder({ label: tag });
      const pass = enc.beginComputePass({ label: tag });
      const { horizontal, vertical } = this.pipelines;
      const bind = (b: GPUBuffer, size: number): GPUBufferBinding => ({ buffer: b, offset: 0, size });
      const common: [number, GPUBufferBinding][] = [
        [0, bind(paramBuf, params.byteLength)],
        [2, bind(coeffBuf, coeffTotal)],
        [3, bind(tmpBuf, tmpTotal)],
      ];
      encodeDispatch(this.device, pass, horizontal, tag, [...common, [1, bind(srcBuf, srcTotal)]], [
        Math.ceil(crop / this.wg.wgX),
        Math.ceil(maxTmpRows / this.wg.wgY),
        n,
      ]);
      const outRange = { buffer: out, offset: slot * imageBytes, size: n * imageBytes };
      encodeDispatch(this.device, pass, vertical, tag, [...common, [4, outRange]], [
        Math.ceil(crop / this.wg.wgX),
        Math.ceil(crop / this.wg.wgY),
        n,
      ]);
      pass.end();
      q.submit([enc.finish()]);
      slot += n;
    }
  }
}
