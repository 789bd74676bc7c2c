/**
 * GPU preprocessing kernel vs the plain TypeScript CPU path, same recipe, same images (the 10 demo photos,
 * repeated to 64). Run with `deno task bench`; read the ratio from one run, never across runs.
 */
import { GpuPreprocessor } from "../kernels/preprocess.ts";
import { requestGpu } from "../lib/gpu/context.ts";
import { readBuffer } from "../lib/gpu/readback.ts";
import { decodeImageFile } from "../lib/image/decode.ts";
import { listImages } from "../lib/image/list.ts";
import { preprocessCpu } from "../lib/preprocess/cpu.ts";
import { CLIP_RECIPE, TORCHVISION_RECIPE } from "../lib/preprocess/recipe.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const files = await listImages([`${ROOT}data/samples/photo`]);
const decoded = await Promise.all(files.map((f) => decodeImageFile(f)));
const images = Array.from({ length: 64 }, (_, i) => decoded[i % decoded.length]!);
const gpu = await requestGpu();
if (!gpu) console.warn("SKIP GPU bench cases: no WebGPU adapter");

for (const recipe of [CLIP_RECIPE, TORCHVISION_RECIPE]) {
  const out = new Float32Array(images.length * 3 * 224 * 224);
  Deno.bench({
    name: `preprocess ${recipe.name}, 64 images, CPU (TypeScript)`,
    group: `preprocess-${recipe.name}`,
    baseline: true,
    fn: () => {
      images.forEach((img, i) => preprocessCpu(img, recipe, out, i));
    },
  });
  if (gpu) {
    const pre = new GpuPreprocessor(gpu.device, "f32");
    const buf = pre.createBatchBuffer(images.length, 224, "bench batch");
    Deno.bench({
      name: `preprocess ${recipe.name}, 64 images, GPU kernel (${gpu.summary.name})`,
      group: `preprocess-${recipe.name}`,
      fn: async () => {
        pre.run(images, recipe, buf);
        // One 4-byte readback waits for the work to finish.
        await readBuffer(gpu.device, buf, 0, 4);
      },
    });
  }
}
