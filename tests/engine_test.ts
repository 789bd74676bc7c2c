/**
 * The WGSL engine's kernels (issue 18) against float64 CPU references, at awkward shapes too (odd sizes, one
 * row, sizes that are not tile multiples), on whatever adapter there is: llvmpipe in CI, a GPU where present.
 */
import { ok as assert, throws } from "node:assert/strict";
import { DEFAULT_GEMM_TILES, type GemmActivation, GpuGemm } from "../kernels/gemm.ts";
import { erf, gemmCpu } from "../lib/math/cpu.ts";
import { createBufferWith, readBuffer } from "../lib/gpu/readback.ts";
import { HAS_F16, HAS_GPU, rng, withDevice } from "./_helpers.ts";

const gpuTest = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: !HAS_GPU, fn });

Deno.test("the float64 erf reference matches known values", () => {
  const known: [number, number][] = [
    [0, 0],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [-1.5, -0.9661051464753108],
    [3.5, 0.9999992569016276],
  ];
  for (const [x, want] of known) assert(Math.abs(erf(x) - want) < 1e-12, `erf(${x}) = ${erf(x)}, want ${want}`);
});

const rand = (r: () => number, n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);

async function gpuGemm(
  device: GPUDevice,
  gemm: GpuGemm,
  a: Float32Array,
  b: Float32Array,
  shape: { m: number; n: number; k: number },
  opts: { bias?: Float32Array; residual?: Float32Array; activation?: GemmActivation },
  f16 = false,
): Promise<Float32Array> {
  const up = (x: Float32Array, label: string) =>
    createBufferWith(device, label, f16 ? Float16Array.from(x) : x, GPUBufferUsage.STORAGE);
  const bufs = [up(a, "A"), up(b, "B")];
  const bias = opts.bias && up(opts.bias, "bias"), residual = opts.residual && up(opts.residual, "residual");
  const out = gemm.run(bufs[0]!, bufs[1]!, shape, { bias, residual, activation: opts.activation });
  const size = shape.m * shape.n * (f16 ? 2 : 4);
  // Copies go in multiples of 4 bytes; the output buffer is padded to allow it.
  const bytes = (await readBuffer(device, out, 0, Math.ceil(size / 4) * 4)).slice(0, size);
  for (const x of [...bufs, bias, residual, out]) x?.destroy();
  return f16 ? Float32Array.from(new Float16Array(bytes)) : new Float32Array(bytes);
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [1, 1000, 64], // batch 1, a classifier head
  [17, 33, 130],
  [64, 64, 64], // exactly one default tile
  [147, 70, 257], // 3 images x 7x7 positions, odd N and K
];

gpuTest("GEMM kernel matches float64 with bias, residual and each activation, at awkward shapes", async () => {
  const r = rng(7);
  await withDevice(async ({ device }) => {
    const gemm = new GpuGemm(device, "f32");
    try {
      const acts: GemmActivation[] = ["none", "relu", "quickgelu", "gelu"];
      for (const [i, [m, n, k]] of SHAPES.entries()) {
        const a = rand(r, m * k), b = rand(r, k * n), bias = rand(r, n), residual = rand(r, m * n);
        const activation = acts[i % acts.length]!;
        const opts = { bias, residual: i % 2 ? residual : undefined, activation };
        const got = await gpuGemm(device, gemm, a, b, { m, n, k }, opts);
        const want = gemmCpu(a, b, m, n, k, opts);
        for (let j = 0; j < want.length; j++) {
          const err = Math.abs(got[j]! - want[j]!);
          assert(
            err <= 1e-4 * Math.max(1, Math.abs(want[j]!)),
            `[${m},${n},${k}] ${activation} #${j}: ${got[j]} vs ${want[j]}`,
          );
        }
      }
    } finally {
      gemm.release();
    }
  });
});

gpuTest("GEMM kernel gives the same result for other tile sizes (the sweep's candidates are all correct)", async () => {
  const r = rng(11);
  const [m, n, k] = [37, 45, 29];
  const a = rand(r, m * k), b = rand(r, k * n);
  const want = gemmCpu(a, b, m, n, k, { activation: "relu" });
  await withDevice(async ({ device }) => {
    for (const tiles of [DEFAULT_GEMM_TILES, { m: 32, n: 32, k: 8 }, { m: 16, n: 64, k: 4 }, { m: 8, n: 8, k: 1 }]) {
      const gemm = new GpuGemm(device, "f32", tiles);
      const got = await gpuGemm(device, gemm, a, b, { m, n, k }, { activation: "relu" });
      gemm.release();
      for (let j = 0; j < want.length; j++) {
        assert(
          Math.abs(got[j]! - want[j]!) <= 1e-4 * Math.max(1, Math.abs(want[j]!)),
          `${JSON.stringify(tiles)} #${j}`,
        );
      }
    }
  });
});

gpuTest("GEMM kernel refuses tiles beyond the device limits and bad shapes before building or running", async () => {
  await withDevice(({ device }) => {
    throws(() => new GpuGemm(device, "f32", { m: 6, n: 64, k: 16 }), /multiples of 4/);
    throws(() => new GpuGemm(device, "f32", { m: 512, n: 512, k: 16 }), /beyond this device's limits/);
    const gemm = new GpuGemm(device, "f32");
    const small = createBufferWith(device, "small A", new Float32Array(4), GPUBufferUsage.STORAGE);
    throws(() => gemm.run(small, small, { m: 3, n: 3, k: 3 }), /GEMM A "small A" holds 16 bytes, needs 36/);
    throws(() => gemm.run(small, small, { m: 0, n: 1, k: 1 }), /GEMM m must be a positive integer/);
    small.destroy();
    gemm.release();
    return Promise.resolve();
  });
});

Deno.test({
  name: "GEMM kernel in f16 storage with f32 accumulation stays within f16 rounding of float64",
  ignore: !HAS_GPU || !HAS_F16,
  fn: async () => {
    const r = rng(5);
    await withDevice(async ({ device }) => {
      const gemm = new GpuGemm(device, "f16");
      try {
        for (const [m, n, k] of [[3, 5, 7], [17, 33, 130]] as const) {
          // Inputs rounded to f16 first, so the reference sees what the kernel sees.
          const a = Float32Array.from(new Float16Array(rand(r, m * k))),
            b = Float32Array.from(new Float16Array(rand(r, k * n)));
          const got = await gpuGemm(device, gemm, a, b, { m, n, k }, { activation: "none" }, true);
          const want = gemmCpu(a, b, m, n, k);
          for (let j = 0; j < want.length; j++) {
            // One f16 rounding of the f32 sum: half an ulp, 2^-11 relative, plus a little for the f32 sum.
            assert(
              Math.abs(got[j]! - want[j]!) <= 2 ** -10 * Math.max(1, Math.abs(want[j]!)),
              `[${m},${n},${k}] #${j}`,
            );
          }
        }
      } finally {
        gemm.release();
      }
    });
  },
});
