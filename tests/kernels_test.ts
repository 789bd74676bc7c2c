import { ok as assert, strictEqual as assertEquals } from "node:assert/strict";
import { GpuPreprocessor } from "../kernels/preprocess.ts";
import { GpuCosine } from "../kernels/cosine.ts";
import { GpuSoftmax } from "../kernels/softmax.ts";
import { GpuTopK } from "../kernels/topk.ts";
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

gpuTest("preprocess kernel splits a batch whose buffers pass the binding limit into groups, same result", async () => {
  const images = await Promise.all(refs.images.map((p) => decodeImageFile(`${ROOT}/${p}`)));
  await withDevice(async ({ device }) => {
    const whole = await gpuPreprocess(device, images, TORCHVISION_RECIPE, "f32");
    // 2 MB per binding: about two images per group, so five or more groups, each with its own uploads.
    const pre = new GpuPreprocessor(device, "f32", { wgX: 16, wgY: 16, groupBytes: 2 * 1024 * 1024 });
    const buf = pre.createBatchBuffer(images.length + 1, 224, "test groups");
    pre.run(images.slice(0, 3), TORCHVISION_RECIPE, buf, 1);
    pre.run(images.slice(3), TORCHVISION_RECIPE, buf, 4);
    const got = new Float32Array(await readBuffer(device, buf, 0, buf.size)).subarray(3 * 224 * 224);
    buf.destroy();
    pre.release();
    assertEquals(maxAbsDiff(got, whole), 0);
    assertEquals(maxAbsDiff(whole, cpuPreprocess(images, TORCHVISION_RECIPE)) <= 1e-5, true);
  });
});

gpuTest(
  "an image whose source window is over the binding limit is preprocessed on the CPU in place, not a failed run",
  async () => {
    const photo = await decodeImageFile(`${ROOT}/${refs.images[0]}`);
    const images = [photo, randomImage(224, 224, 9), photo];
    await withDevice(async ({ device }) => {
      // 200 KB per binding: the 224x224 image's window (196 KB) fits, the photo's does not.
      const pre = new GpuPreprocessor(device, "f32", { wgX: 16, wgY: 16, groupBytes: 200 * 1024 });
      const buf = pre.createBatchBuffer(images.length, 224, "test fallback");
      assertEquals(pre.run(images, TORCHVISION_RECIPE, buf), 2);
      const got = new Float32Array(await readBuffer(device, buf, 0, buf.size));
      buf.destroy();
      pre.release();
      assert(maxAbsDiff(got, cpuPreprocess(images, TORCHVISION_RECIPE)) <= 1e-5);
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

function toF16Buffer(device: GPUDevice, label: string, data: ArrayLike<number>): GPUBuffer {
  return createBufferWith(
    device,
    label,
    new Uint16Array(new Float16Array(Array.from(data)).buffer),
    GPUBufferUsage.STORAGE,
  );
}

const f16round = (xs: ArrayLike<number>) => Float64Array.from(new Float16Array(Array.from(xs)));

Deno.test({
  name: "cosine and softmax kernels with f16 inputs match float64 within 2e-3 (f32 accumulation)",
  ignore: !HAS_F16,
  fn: async () => {
    const r = rng(99);
    await withDevice(async ({ device }) => {
      for (const [b, c, d] of [[3, 7, 1024], [16, 100, 130], [1, 1, 5]]) {
        const a = Float32Array.from({ length: b! * d! }, () => r() * 2 - 1);
        const t = Float32Array.from({ length: c! * d! }, () => r() * 2 - 1);
        const [ab, tb] = [toF16Buffer(device, "a16", a), toF16Buffer(device, "t16", t)];
        const out = new GpuCosine(device, "f16").run(ab, tb, { b: b!, c: c!, d: d! });
        const got = new Float32Array(await readBuffer(device, out, 0, b! * c! * 4));
        // Reference on the f16-rounded inputs the kernel sees, in float64.
        const want = cosineCpu(f16round(a), f16round(t), b!, c!, d!);
        for (let i = 0; i < want.length; i++) assert(Math.abs(got[i]! - want[i]!) <= 2e-3, `cos #${i}`);
        for (const x of [ab, tb, out]) x.destroy();
      }
      const logits = Float32Array.from({ length: 4 * 1000 }, () => (r() * 2 - 1) * 8);
      const lb = toF16Buffer(device, "logits16", logits);
      const cols = [22, 29, 39, 63, 71, 79, 84, 100, 245, 288];
      for (const columns of [undefined, cols]) {
        const out = new GpuSoftmax(device, "f16").run(lb, { rows: 4, n: 1000, scale: 1, columns });
        const m = columns?.length ?? 1000;
        const got = new Float32Array(await readBuffer(device, out, 0, 4 * m * 4));
        const want = softmaxCpu(f16round(logits), 4, 1000, 1, columns);
        for (let i = 0; i < want.length; i++) assert(Math.abs(got[i]! - want[i]!) <= 2e-3, `softmax #${i}`);
        out.destroy();
      }
      lb.destroy();
    });
  },
});

async function gpuTopK(
  device: GPUDevice,
  values: Float32Array,
  rows: number,
  n: number,
  k: number,
  elem: "f32" | "f16",
) {
  const buf = elem === "f16"
    ? toF16Buffer(device, "values16", values)
    : createBufferWith(device, "values", values, GPUBufferUsage.STORAGE);
  const res = await new GpuTopK(device, elem).read(buf, { rows, n, k });
  buf.destroy();
  return res;
}

gpuTest("top-k kernel returns the CPU reference's indices and values, ties by lower index", async () => {
  const r = rng(5);
  await withDevice(async ({ device }) => {
    const cases: [number, number, number][] = [[1, 1, 1], [3, 10, 5], [5, 1000, 10], [2, 63, 7], [4, 130, 1], [
      1,
      4097,
      5,
    ]];
    for (const [rows, n, k] of cases) {
      const v = Float32Array.from({ length: rows * n }, () => r());
      // Plant exact ties to pin the ordering rule.
      if (n >= 10) v[3] = v[7] = 2;
      const got = await gpuTopK(device, v, rows, n, k, "f32");
      for (let row = 0; row < rows; row++) {
        const slice = v.subarray(row * n, (row + 1) * n);
        const want = topK(slice, k);
        assertEquals(
          Array.from(got.indices.subarray(row * k, (row + 1) * k)).join(),
          want.join(),
          `[${rows},${n},${k}] row ${row}`,
        );
        want.forEach((j, s) => assertEquals(got.values[row * k + s], slice[j]));
      }
    }
  });
});

gpuTest(
  "top-k kernel flags a row holding NaN or ±Inf (every index 0xffffffff), like the CPU path; other rows are scored",
  async () => {
    const { checkFinite, classTopK, NON_FINITE_ROW, NonFiniteError } = await import("../lib/scoring.ts");
    const r = rng(9);
    await withDevice(async ({ device }) => {
      const rows = 4, n = 300, k = 5;
      const v = Float32Array.from({ length: rows * n }, () => r());
      v[1 * n + 17] = Number.NaN;
      v[2 * n + 299] = Number.POSITIVE_INFINITY;
      v[3 * n + 0] = Number.NEGATIVE_INFINITY;
      const got = await gpuTopK(device, v, rows, n, k, "f32");
      assertEquals(Array.from(got.indices.subarray(0, k)).join(), topK(v.subarray(0, n), k).join());
      for (const row of [1, 2, 3]) {
        assert(got.indices.subarray(row * k, (row + 1) * k).every((i) => i === NON_FINITE_ROW), `row ${row}`);
      }
      let err: unknown;
      try {
        checkFinite({ rows, k, indices: got.indices, values: got.values });
      } catch (e) {
        err = e;
      }
      assert(err instanceof NonFiniteError && err.row === 1);
      // The CPU path (wasm) flags the same rows.
      let cpuErr: unknown;
      try {
        await classTopK({ where: "cpu", data: v, rows, width: n }, undefined, k);
      } catch (e) {
        cpuErr = e;
      }
      assert(cpuErr instanceof NonFiniteError && cpuErr.row === 1, String(cpuErr));
    });
  },
);

Deno.test({
  name: "top-k kernel on f16 values matches the reference on the rounded values",
  ignore: !HAS_F16,
  fn: async () => {
    const r = rng(11);
    await withDevice(async ({ device }) => {
      const v = Float32Array.from({ length: 3 * 1000 }, () => r() * 10);
      const got = await gpuTopK(device, v, 3, 1000, 5, "f16");
      const rounded = f16round(v);
      for (let row = 0; row < 3; row++) {
        const want = topK(rounded.subarray(row * 1000, (row + 1) * 1000), 5);
        assertEquals(Array.from(got.indices.subarray(row * 5, row * 5 + 5)).join(), want.join());
        want.forEach((j, s) => assert(Math.abs(got.values[row * 5 + s]! - rounded[row * 1000 + j]!) <= 2e-3));
      }
    });
  },
});

gpuTest("top-k kernel driver refuses k outside 1..min(10, n) before dispatching", async () => {
  await withDevice(({ device }) => {
    const topk = new GpuTopK(device);
    const buf = createBufferWith(device, "v", new Float32Array(8), GPUBufferUsage.STORAGE);
    for (const k of [0, 11, 9]) {
      let threw = false;
      try {
        topk.run(buf, { rows: 1, n: 8, k });
      } catch (err) {
        threw = err instanceof RangeError && /Top-k k must be an integer in 1\.\.8/.test(err.message);
      }
      assert(threw, `k=${k}`);
    }
    buf.destroy();
    return Promise.resolve();
  });
});

const PARITY_DIR = `${ROOT}/models/fixtures/parity`;
const parity: { inputs: string[]; normalize_by_level: Record<string, number[][]> } = JSON.parse(
  await Deno.readTextFile(`${PARITY_DIR}/parity.json`),
);

gpuTest(
  "preprocess kernel matches PIL + torchvision within 1/255 on the parity images (f32), f16 within f16 rounding",
  async () => {
    const images = await Promise.all(parity.inputs.map((n) => decodeImageFile(`${PARITY_DIR}/${n}`)));
    await withDevice(async ({ device, summary }) => {
      for (const [tag, recipe] of [["clip", CLIP_RECIPE], ["torchvision", TORCHVISION_RECIPE]] as const) {
        const got = await gpuPreprocess(device, images, recipe, "f32");
        const got16 = summary.f16 ? await gpuPreprocess(device, images, recipe, "f16") : null;
        const plane = 224 * 224;
        for (let i = 0; i < images.length; i++) {
          const crop = await decodeImageFile(
            `${PARITY_DIR}/${parity.inputs[i]}.${tag === "clip" ? "clip" : "resnet"}.png`,
          );
          let worst = 0;
          for (let c = 0; c < 3; c++) {
            for (let p = 0; p < plane; p++) {
              const want = parity.normalize_by_level[tag]![c]![crop.data[p * 4 + c]!]!;
              const o = i * 3 * plane + c * plane + p;
              worst = Math.max(worst, Math.abs(got[o]! - want) * recipe.std[c]!);
              if (got16) assert(Math.abs(got16[o]! - got[o]!) <= Math.max(Math.abs(got[o]!) * 2 ** -11, 2 ** -25));
            }
          }
          assert(worst <= 1 / 255, `${parity.inputs[i]} ${tag}: ${worst * 255} levels`);
        }
      }
    });
  },
);

gpuTest("property: preprocess kernel equals the CPU path on random sizes and pixels", async () => {
  const r = rng(2024);
  const sizes: [number, number][] = Array.from(
    { length: 12 },
    () => [1 + Math.floor(r() * 700), 1 + Math.floor(r() * 700)],
  );
  sizes.push([1, 900], [900, 1], [256, 256], [255, 224]);
  const images = sizes.map(([w, h], i) => randomImage(w, h, 100 + i));
  await withDevice(async ({ device }) => {
    for (const recipe of [CLIP_RECIPE, TORCHVISION_RECIPE]) {
      const d = maxAbsDiff(await gpuPreprocess(device, images, recipe, "f32"), cpuPreprocess(images, recipe));
      assert(d <= 1e-5, `${recipe.name}: max diff ${d}`);
    }
  });
});

gpuTest(
  "property: cosine, softmax and top-k match float64 references on random shapes, and at 256x1000x1024",
  async () => {
    const r = rng(314);
    const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
    await withDevice(async ({ device }) => {
      const shapes: [number, number, number][] = Array.from(
        { length: 8 },
        () => [int(1, 40), int(1, 300), int(1, 200)],
      );
      shapes.push([256, 1000, 1024]);
      for (const [b, c, d] of shapes) {
        const a = Float32Array.from({ length: b * d }, () => r() * 2 - 1);
        const t = Float32Array.from({ length: c * d }, () => r() * 2 - 1);
        const got = await gpuCosine(device, a, t, b, c, d);
        const want = cosineCpu(a, t, b, c, d);
        for (let i = 0; i < want.length; i++) {
          assert(Math.abs(got[i]! - want[i]!) <= 1e-5 * Math.max(1, Math.abs(want[i]!)), `cos [${b},${c},${d}] #${i}`);
        }
        if (b * c > 20000) continue; // the softmax/top-k checks below use the smaller shapes
        const scale = [1, 100, 7.5][int(0, 2)]!;
        const probs = await gpuSoftmax(device, Float32Array.from(want), b, c, scale);
        const ref = softmaxCpu(want, b, c, scale);
        for (let i = 0; i < ref.length; i++) {
          assert(Math.abs(probs[i]! - ref[i]!) <= 1e-5 * Math.max(ref[i]!, 1e-2), `softmax [${b},${c}] #${i}`);
        }
        const k = int(1, Math.min(10, c));
        const top = await gpuTopK(device, Float32Array.from(ref), b, c, k, "f32");
        for (let row = 0; row < b; row++) {
          const wantIdx = topK(ref.subarray(row * c, (row + 1) * c), k);
          // Probabilities closer than f32 resolution may swap; compare the values, which must agree.
          wantIdx.forEach((j, s) =>
            assert(Math.abs(top.values[row * k + s]! - ref[row * c + j]!) <= 1e-6, `top-k [${b},${c},${k}]`)
          );
        }
      }
    });
  },
);
