import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { GpuPreprocessor } from "../kernels/preprocess.ts";
import { GpuCosine } from "../kernels/cosine.ts";
import { GpuSoftmax } from "../kernels/softmax.ts";
import { preprocessCpu } from "../lib/preprocess/cpu.ts";
import { CLIP_RECIPE, type Recipe, TORCHVISION_RECIPE, unitRecipe } from "../lib/preprocess/recipe.ts";
import { cosineCpu, softmaxCpu, topK } from "../lib/math/cpu.ts";
import { createBufferWith, readBuffer } from "../lib/gpu/readback.ts";
import { decodeImageFile, type RgbaImage } from "../lib/image/decode.ts";
import { HAS_F16, HAS_GPU, maxAbsDiff, refs, rng, ROOT, withDevice } from "./_helpers.ts";

const gpuTest = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: !HAS_GPU, fn });

function randomImage(width: number, height: number, seed: number): RgbaImage {
  const r = rng(seed);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  return { width, height, data };
}

async function gpuPreprocess(device: GPUDevice, images: RgbaImage[], recipe: Recipe, elem: "f32" | "f16") {
  const pre = new GpuPreprocessor(device, elem);
  const buf = pre.createBatchBuffer(images.length, recipe.crop, "test batch");
  pre.run(images, recipe, buf);
  const bytes = await readBuffer(device, buf, 0, buf.size);
  buf.destroy();
  return elem === "f32" ? new Float32Array(bytes) : Float32Array.from(new Float16Array(bytes));
}

function cpuPreprocess(images: RgbaImage[], recipe: Recipe): Float32Array {
  const out = new Float32Array(images.length * 3 * recipe.crop * recipe.crop);
  images.forEach((img, i) => preprocessCpu(img, recipe, out, i));
  return out;
}

gpuTest(
  "preprocess kernel matches the CPU path on the demo photos, both recipes, in one mixed-size batch",
  async () => {
    const images = await Promise.all(refs.images.slice(0, 4).map((p) => decodeImageFile(`${ROOT}/${p}`)));
    await withDevice(async ({ device }) => {
      for (const recipe of [CLIP_RECIPE, TORCHVISION_RECIPE, unitRecipe(TORCHVISION_RECIPE)]) {
        const gpu = await gpuPreprocess(device, images, recipe, "f32");
        const cpu = cpuPreprocess(images, recipe);
        // Same integer resampling; only the final float division may differ by an ulp.
        const d = maxAbsDiff(gpu, cpu);
        assert(d <= 1e-5, `${recipe.name}: max diff ${d}`);
      }
    });
  },
);

gpuTest("preprocess kernel handles 1x1, extreme aspect ratios and already-224 images", async () => {
  const images = [
    randomImage(1, 1, 1),
    randomImage(7, 300, 2),
    randomImage(300, 7, 3),
    randomImage(224, 224, 4),
    randomImage(225, 1000, 5),
  ];
  await withDevice(async ({ device }) => {
    for (const recipe of [CLIP_RECIPE, TORCHVISION_RECIPE]) {
      const d = maxAbsDiff(await gpuPreprocess(device, images, recipe, "f32"), cpuPreprocess(images, recipe));
      assert(d <= 1e-5, `${recipe.name}: max diff ${d}`);
    }
  });
});

Deno.test({
  name: "preprocess kernel in f16 is within f16 rounding of the f32 result",
  ignore: !HAS_F16,
  fn: async () => {
    const images = [randomImage(333, 250, 7), randomImage(120, 480, 8)];
    await withDevice(async ({ device }) => {
      const f32 = await gpuPreprocess(device, images, CLIP_RECIPE, "f32");
      const f16 = await gpuPreprocess(device, images, CLIP_RECIPE, "f16");
      for (let i = 0; i < f32.length; i++) {
        // f16 has an 11-bit significand: half an ulp is |x| * 2^-11 (values here are within [-2, 3]).
        const tol = Math.max(Math.abs(f32[i]!) * 2 ** -11, 2 ** -25);
        assert(Math.abs(f16[i]! - f32[i]!) <= tol, `element ${i}: ${f16[i]} vs ${f32[i]}`);
      }
    });
  },
});

async function gpuCosine(device: GPUDevice, a: Float32Array, t: Float32Array, b: number, c: number, d: number) {
  const ab = createBufferWith(device, "a", a, GPUBufferUsage.STORAGE);
  const tb = createBufferWith(device, "t", t, GPUBufferUsage.STORAGE);
  const out = new GpuCosine(device, "f32").run(ab, tb, { b, c, d });
  const res = new Float32Array(await readBuffer(device, out, 0, b * c * 4));
  ab.destroy();
  tb.destroy();
  out.destroy();
  return res;
}

gpuTest("cosine kernel matches the float64 reference within 1e-5 on random shapes", async () => {
  const r = rng(42);
  await withDevice(async ({ device }) => {
    for (const [b, c, d] of [[1, 1, 1], [3, 5, 7], [10, 10, 1024], [17, 33, 130], [2, 1000, 64]]) {
      const a = Float32Array.from({ length: b! * d! }, () => r() * 2 - 1);
      const t = Float32Array.from({ length: c! * d! }, () => r() * 2 - 1);
      const got = await gpuCosine(device, a, t, b!, c!, d!);
      const want = cosineCpu(a, t, b!, c!, d!);
      for (let i = 0; i < want.length; i++) {
        const err = Math.abs(got[i]! - want[i]!);
        assert(err <= 1e-5 * Math.max(1, Math.abs(want[i]!)), `[${b},${c},${d}] #${i}: ${got[i]} vs ${want[i]}`);
      }
    }
  });
});

gpuTest("cosine kernel gives 0, not NaN, for a zero row", async () => {
  await withDevice(async ({ device }) => {
    const got = await gpuCosine(device, new Float32Array(4), new Float32Array([1, 2, 3, 4]), 1, 1, 4);
    assertEquals(got[0], 0);
  });
});

async function gpuSoftmax(
  device: GPUDevice,
  logits: Float32Array,
  rows: number,
  n: number,
  scale: number,
  cols?: number[],
) {
  const lb = createBufferWith(device, "logits", logits, GPUBufferUsage.STORAGE);
  const out = new GpuSoftmax(device).run(lb, { rows, n, scale, columns: cols });
  const res = new Float32Array(await readBuffer(device, out, 0, rows * (cols?.length ?? n) * 4));
  lb.destroy();
  out.destroy();
  return res;
}

gpuTest("softmax kernel matches the float64 reference within 1e-5, with temperature and column selection", async () => {
  const r = rng(7);
  await withDevice(async ({ device }) => {
    const cases: [number, number, number, number[] | undefined][] = [
      [1, 1, 1, undefined],
      [4, 10, 100, undefined],
      [3, 1000, 1, undefined],
      [5, 1000, 1, [22, 29, 39, 63, 71, 79, 84, 100, 245, 288]],
      [2, 77, 3.5, [76, 0, 5]],
    ];
    for (const [rows, n, scale, cols] of cases) {
      const logits = Float32Array.from({ length: rows * n }, () => (r() * 2 - 1) * (scale === 100 ? 0.3 : 10));
      const got = await gpuSoftmax(device, logits, rows, n, scale, cols);
      const want = softmaxCpu(logits, rows, n, scale, cols);
      for (let i = 0; i < want.length; i++) {
        assert(
          Math.abs(got[i]! - want[i]!) <= 1e-5 * Math.max(want[i]!, 1e-2),
          `[${rows},${n}] #${i}: ${got[i]} vs ${want[i]}`,
        );
      }
    }
  });
});

gpuTest("softmax kernel is stable for all-equal and +-large logits", async () => {
  await withDevice(async ({ device }) => {
    const eq = await gpuSoftmax(device, new Float32Array(8).fill(3), 1, 8, 100);
    for (const p of eq) assert(Math.abs(p - 1 / 8) < 1e-6, `all-equal gave ${p}`);
    const big = await gpuSoftmax(device, new Float32Array([1e4, -1e4, 1e4 - 1, 0]), 1, 4, 1);
    const want = softmaxCpu([1e4, -1e4, 1e4 - 1, 0], 1, 4, 1);
    for (let i = 0; i < 4; i++) {
      assert(Number.isFinite(big[i]!) && Math.abs(big[i]! - want[i]!) < 1e-6, `large: ${big}`);
    }
  });
});

Deno.test("topK() returns indices of the largest values, ties by lower index", () => {
  assertEquals(topK([0.1, 0.5, 0.5, 0.9, 0.0], 3).join(), "3,1,2");
  assertEquals(topK([1, 2], 5).join(), "1,0");
});
