/**
 * Images through a preprocessing recipe into one `.npy` `[N, 3, crop, crop]`: on the GPU kernel when a device is
 * given, else on the CPU path (the two agree exactly; tests/preprocess_test.ts).
 *
 * @module
 */
import { GpuPreprocessor } from "../../kernels/preprocess.ts";
import { readBuffer } from "../gpu/readback.ts";
import type { GpuContext } from "../gpu/context.ts";
import { encodeNpy } from "../npy.ts";
import { preprocessCpu } from "./cpu.ts";
import type { Recipe } from "./recipe.ts";
import type { RgbaImage } from "../image/decode.ts";
import { ClipcmpError } from "../errors.ts";

/**
 * Preprocesses `images` with `recipe` into `.npy` bytes.
 *
 * @example
 * ```ts
 * import { preprocessToNpy } from "./npy.ts";
 * import { CLIP_RECIPE } from "./recipe.ts";
 * const img = { width: 2, height: 2, data: new Uint8Array(16).fill(128) };
 * const npy = await preprocessToNpy([img], CLIP_RECIPE, "fp32", null);
 * if (npy[0] !== 0x93) throw new Error("not an .npy");
 * ```
 * @param images Decoded images.
 * @param recipe The recipe.
 * @param dtype Element type of the array.
 * @param gpu The GPU, or null for the CPU path.
 * @returns The `.npy` file's bytes.
 */
export async function preprocessToNpy(
  images: readonly RgbaImage[],
  recipe: Recipe,
  dtype: "fp32" | "fp16",
  gpu: GpuContext | null,
): Promise<Uint8Array<ArrayBuffer>> {
  const shape = [images.length, 3, recipe.crop, recipe.crop];
  const n = shape.reduce((a, b) => a * b, 1);
  if (gpu) {
    if (dtype === "fp16" && !gpu.summary.f16) {
      throw new ClipcmpError(`--dtype fp16 on webgpu needs working shader-f16: ${gpu.summary.f16Reason}`);
    }
    const pre = new GpuPreprocessor(gpu.device, dtype === "fp16" ? "f16" : "f32");
    const buf = pre.createBatchBuffer(images.length, recipe.crop, "preprocess output");
    try {
      pre.run(images, recipe, buf);
      const raw = await readBuffer(gpu.device, buf, 0, buf.size);
      return dtype === "fp16"
        ? encodeNpy(new Uint16Array(raw, 0, n), "<f2", shape)
        : encodeNpy(new Float32Array(raw, 0, n), "<f4", shape);
    } finally {
      buf.destroy();
    }
  }
  const x = new Float32Array(n);
  images.forEach((img, i) => preprocessCpu(img, recipe, x, i));
  return dtype === "fp16" ? encodeNpy(new Float16Array(x), "<f2", shape) : encodeNpy(x, "<f4", shape);
}
