/**
 * Preprocessing and scoring kernels. Run with `deno task bench`; read ratios within one run, never across runs.
 *
 * - GPU preprocessing kernel vs the plain TypeScript CPU path, same recipe, same 64 images (the 10 demo photos
 *   repeated);
 * - preprocessing alone at batch 256 (images/s = 256 / time per iteration; bytes moved printed below);
 * - workgroup-shape variants of the preprocessing and cosine kernels, which is how the defaults were chosen.
 */
import { GpuPreprocessor } from "../kernels/preprocess.ts";
import { GpuCosine } from "../kernels/cosine.ts";
import { requestGpu } from "../lib/gpu/context.ts";
import { readBuffer } from "../lib/gpu/readback.ts";
import { decodeImageFile } from "../lib/image/decode.ts";
import { listImages } from "../lib/image/list.ts";
import { preprocessCpu } from "../lib/preprocess/cpu.ts";
import { CLIP_RECIPE, planPreprocess, type Recipe, TORCHVISION_RECIPE } from "../lib/preprocess/recipe.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const files = await listImages([`${ROOT}data/samples/photo`]);
const decoded = await Promise.all(files.map((f) => decodeImageFile(f)));
const batch = (n: number) => Array.from({ length: n }, (_, i) => decoded[i % decoded.length]!);
const images64 = batch(64);
const images256 = batch(256);
const gpu = await requestGpu();
if (!gpu) console.warn("SKIP GPU bench cases: no WebGPU adapter");
else console.log(`adapter: ${gpu.summary.name}${gpu.summary.fallback ? " (fallback)" : ""}`);

/** Bytes the GPU path moves for a batch: uploads, the intermediate pass (write + read), and the output. */
function bytesMoved(images: typeof decoded, recipe: Recipe, elemBytes: number): number {
  let total = 0;
  for (const img of images) {
    const p = planPreprocess(img.width, img.height, recipe);
    const coeffs = 4 * (4 * recipe.crop + recipe.crop * (p.h.ksize + p.v.ksize));
    total += p.h.span * p.v.span * 4 + coeffs + 2 * p.v.span * recipe.crop * 4 +
      3 * recipe.crop * recipe.crop * elemBytes;
  }
  return total;
}

for (const recipe of [CLIP_RECIPE, TORCHVISION_RECIPE]) {
  const out = new Float32Array(images64.length * 3 * 224 * 224);
  Deno.bench({
    name: `preprocess ${recipe.name}, 64 images, CPU (TypeScript)`,
    group: `preprocess-${recipe.name}`,
    baseline: true,
    fn: () => {
      images64.forEach((img, i) => preprocessCpu(img, recipe, out, i));
    },
  });
  if (gpu) {
    const pre = new GpuPreprocessor(gpu.device, "f32");
    const buf = pre.createBatchBuffer(images64.length, 224, "bench batch 64");
    Deno.bench({
      name: `preprocess ${recipe.name}, 64 images, GPU kernel`,
      group: `preprocess-${recipe.name}`,
      fn: async () => {
        pre.run(images64, recipe, buf);
        await readBuffer(gpu.device, buf, 0, 4); // waits for the work to finish
      },
    });
  }
}

if (gpu) {
  for (const elem of ["f32", "f16"] as const) {
    if (elem === "f16" && !gpu.summary.f16) continue;
    const pre = new GpuPreprocessor(gpu.device, elem);
    const buf = pre.createBatchBuffer(256, 224, `bench batch 256 ${elem}`);
    const mb = bytesMoved(images256, CLIP_RECIPE, elem === "f16" ? 2 : 4) / 1e6;
    console.log(`preprocess clip batch 256 ${elem}: ${mb.toFixed(1)} MB moved per batch`);
    Deno.bench({
      name: `preprocess clip, batch 256, ${elem} out (images/s = 256 / time; ${mb.toFixed(0)} MB moved)`,
      group: "preprocess-batch-256",
      baseline: elem === "f32",
      fn: async () => {
        pre.run(images256, CLIP_RECIPE, buf);
        await readBuffer(gpu.device, buf, 0, 4);
      },
    });
  }
  for (const [x, y] of [[16, 16], [8, 8], [32, 8], [64, 4]] as [number, number][]) {
    const pre = new GpuPreprocessor(gpu.device, "f32", { wgX: x, wgY: y });
    const buf = pre.createBatchBuffer(64, 224, `bench tunables ${x}x${y}`);
    Deno.bench({
      name: `preprocess clip, 64 images, workgroup ${x}x${y}`,
      group: "preprocess-workgroup",
      baseline: x === 16 && y === 16,
      fn: async () => {
        pre.run(images64, CLIP_RECIPE, buf);
        await readBuffer(gpu.device, buf, 0, 4);
      },
    });
  }
  const [b, c, d] = [256, 1000, 1024];
  const a = gpu.device.createBuffer({
    label: "bench a",
    size: b * d * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  const t = gpu.device.createBuffer({
    label: "bench t",
    size: c * d * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
  });
  gpu.device.queue.writeBuffer(a, 0, Float32Array.from({ length: b * d }, (_, i) => Math.sin(i)));
  gpu.device.queue.writeBuffer(t, 0, Float32Array.from({ length: c * d }, (_, i) => Math.cos(i)));
  for (const [x, y] of [[16, 4], [8, 8], [64, 1], [16, 16]] as [number, number][]) {
    const cos = new GpuCosine(gpu.device, "f32", { x, y });
    Deno.bench({
      name: `cosine 256x1000x1024, workgroup ${x}x${y}`,
      group: "cosine-workgroup",
      baseline: x === 16 && y === 4,
      fn: async () => {
        const s = cos.run(a, t, { b, c, d });
        await readBuffer(gpu.device, s, 0, 4);
        s.destroy();
      },
    });
  }
}
