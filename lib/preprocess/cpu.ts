/**
 * The CPU path of preprocessing: the same integer arithmetic as `kernels/preprocess.wgsl` (PIL's 8-bit
 * resampling), used with `--device wasm` and as the kernel's reference in tests.
 *
 * @module
 */
import type { RgbaImage } from "../image/decode.ts";
import { planPreprocess, PRECISION_BITS, type PreprocessPlan, type Recipe } from "./recipe.ts";

function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes and crops to uint8 RGB planes exactly as PIL does: horizontal pass, uint8 rounding, vertical pass.
 *
 * @param image RGBA8 pixels; alpha is ignored, as PIL's `convert("RGB")` drops it.
 * @param plan The plan from {@linkcode planPreprocess}.
 * @returns `3 * crop * crop` bytes, channel-major (CHW).
 */
export function resizeCropCpu(image: RgbaImage, plan: PreprocessPlan): Uint8Array {
  const { h, v } = plan;
  const crop = plan.recipe.crop;
  const src = image.data;
  const w = image.width;
  const tmp = new Uint8Array(v.span * crop * 3);
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < v.span; y++) {
    const row = (v.first + y) * w;
    for (let x = 0; x < crop; x++) {
      const s = h.first + h.start[x]!;
      const n = h.count[x]!;
      let r = half, g = half, b = half;
      for (let k = 0; k < n; k++) {
        const wk = h.weights[x * h.ksize + k]!;
        const p = (row + s + k) * 4;
        r += src[p]! * wk;
        g += src[p + 1]! * wk;
        b += src[p + 2]! * wk;
      }
      const t = (y * crop + x) * 3;
      tmp[t] = clip8(r);
      tmp[t + 1] = clip8(g);
      tmp[t + 2] = clip8(b);
    }
  }
  const out = new Uint8Array(3 * crop * crop);
  const plane = crop * crop;
  for (let y = 0; y < crop; y++) {
    const s = v.start[y]!;
    const n = v.count[y]!;
    for (let x = 0; x < crop; x++) {
      let r = half, g = half, b = half;
      for (let k = 0; k < n; k++) {
        const wk = v.weights[y * v.ksize + k]!;
        const t = ((s + k) * crop + x) * 3;
        r += tmp[t]! * wk;
        g += tmp[t + 1]! * wk;
        b += tmp[t + 2]! * wk;
      }
      const o = y * crop + x;
      out[o] = clip8(r);
      out[plane + o] = clip8(g);
      out[2 * plane + o] = clip8(b);
    }
  }
  return out;
}

/**
 * Preprocesses one image into `out` at image slot `index` of an NCHW float32 batch.
 *
 * @example
 * ```ts
 * import { preprocessCpu } from "./cpu.ts";
 * import { CLIP_RECIPE } from "./recipe.ts";
 * const img = { width: 2, height: 2, data: new Uint8Array(16).fill(255) };
 * const out = new Float32Array(3 * 224 * 224);
 * preprocessCpu(img, CLIP_RECIPE, out, 0);
 * if (Math.abs(out[0]! - (1 - 0.48145466) / 0.26862954) > 1e-6) throw new Error(String(out[0]));
 * ```
 * @param image RGBA8 pixels.
 * @param recipe The recipe.
 * @param out The batch tensor.
 * @param index The image's slot in the batch.
 */
export function preprocessCpu(image: RgbaImage, recipe: Recipe, out: Float32Array, index: number): void {
  const plan = planPreprocess(image.width, image.height, recipe);
  const bytes = resizeCropCpu(image, plan);
  const plane = recipe.crop * recipe.crop;
  const base = index * 3 * plane;
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(recipe.mean[c]!);
    const std = Math.fround(recipe.std[c]!);
    for (let i = 0; i < plane; i++) {
      const unit = Math.fround(bytes[c * plane + i]! / 255);
      out[base + c * plane + i] = Math.fround(Math.fround(unit - mean) / std);
    }
  }
}
