/**
 * The WGSL engine's kernels (issue 18) against float64 CPU references, at awkward shapes too (odd sizes, one
 * row, sizes that are not tile multiples), on whatever adapter there is: llvmpipe in CI, a GPU where present.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { DEFAULT_GEMM_TILES, type GemmActivation, GpuGemm } from "../kernels/gemm.ts";
import { conv2dNchwCpu, erf, gemmCpu, nchwToNhwc, poolNchwCpu } from "../lib/math/cpu.ts";
import { GpuPool, poolOutput, type PoolShape } from "../kernels/pool.ts";
import { GpuRowNorm } from "../kernels/rownorm.ts";
import { checkEngineOps, ENGINE_OPS, unsupportedOps } from "../lib/engine/ops.ts";
import { OnnxGraph } from "../lib/onnx/build.ts";
import { onnxOpCounts } from "../lib/onnx/proto.ts";
import { readOnnx } from "../lib/onnx/external.ts";
import { convOutput, type ConvShape, foldBatchNorm, GpuConv2d, repackConvWeights } from "../kernels/conv2d.ts";
import { createBufferWith, readBuffer } from "../lib/gpu/readback.ts";
import { HAS_F16, HAS_GPU, rng, ROOT, withDevice } from "./_helpers.ts";

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

const CONVS: ConvShape[] = [
  // ResNet-50's stem (7x7 stride 2 pad 3) on a small image, batch 1.
  { n: 1, h: 20, w: 18, cin: 3, cout: 8, kh: 7, kw: 7, sh: 2, sw: 2, ph: 3, pw: 3 },
  // A bottleneck's 3x3, odd channels, batch 3.
  { n: 3, h: 9, w: 7, cin: 5, cout: 13, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 },
  // Its stride-2 variant (the downsampling block).
  { n: 3, h: 9, w: 9, cin: 6, cout: 10, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 },
  // A 1x1 projection with stride 2, no padding.
  { n: 2, h: 8, w: 8, cin: 7, cout: 9, kh: 1, kw: 1, sh: 2, sw: 2, ph: 0, pw: 0 },
  // Asymmetric kernel and stride.
  { n: 1, h: 6, w: 11, cin: 2, cout: 3, kh: 1, kw: 3, sh: 1, sw: 2, ph: 0, pw: 1 },
];

gpuTest(
  "conv kernel (implicit GEMM, NHWC) matches a float64 NCHW reference: stride 2, padding, odd channels, batch 1 and 3",
  async () => {
    const r = rng(21);
    await withDevice(async ({ device }) => {
      const conv = new GpuConv2d(device, "f32");
      try {
        for (const [i, s] of CONVS.entries()) {
          const { oh, ow } = convOutput(s);
          const xNchw = rand(r, s.n * s.cin * s.h * s.w);
          const wOnnx = rand(r, s.cout * s.cin * s.kh * s.kw);
          const bias = rand(r, s.cout);
          const resNchw = rand(r, s.n * s.cout * oh * ow);
          const activation = (["relu", "none", "relu", "gelu", "quickgelu"] as GemmActivation[])[i]!;
          const withRes = i % 2 === 0;
          const want = nchwToNhwc(
            conv2dNchwCpu(xNchw, wOnnx, s, { bias, residual: withRes ? resNchw : undefined, activation }),
            s.n,
            s.cout,
            oh,
            ow,
          );
          const up = (x: ArrayLike<number>, label: string) =>
            createBufferWith(device, label, Float32Array.from(x), GPUBufferUsage.STORAGE);
          const xb = up(nchwToNhwc(xNchw, s.n, s.cin, s.h, s.w), "x NHWC");
          const wb = up(repackConvWeights(wOnnx, s.cout, s.cin, s.kh, s.kw), "w KHKWCiCo");
          const bb = up(bias, "bias");
          const rb = up(nchwToNhwc(resNchw, s.n, s.cout, oh, ow), "residual NHWC");
          const y = conv.run(xb, wb, s, { bias: bb, residual: withRes ? rb : undefined, activation });
          const got = new Float32Array(await readBuffer(device, y, 0, want.length * 4));
          for (const b of [xb, wb, bb, rb, y]) b.destroy();
          for (let j = 0; j < want.length; j++) {
            assert(
              Math.abs(got[j]! - want[j]!) <= 1e-4 * Math.max(1, Math.abs(want[j]!)),
              `${JSON.stringify(s)} #${j}: ${got[j]} vs ${want[j]}`,
            );
          }
        }
      } finally {
        conv.release();
      }
    });
  },
);

Deno.test("folding BatchNorm into the conv's weights and bias gives the same outputs as conv then BatchNorm", () => {
  const r = rng(3);
  const s = { n: 2, h: 5, w: 4, cin: 3, cout: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 };
  const x = rand(r, s.n * s.cin * s.h * s.w), w = rand(r, s.cout * s.cin * 9), b = rand(r, s.cout);
  const bn = {
    scale: rand(r, 4),
    shift: rand(r, 4),
    mean: rand(r, 4),
    variance: Float32Array.from(rand(r, 4), (v) => v * v + 0.1),
    eps: 1e-5,
  };
  const plain = conv2dNchwCpu(x, w, s, { bias: b });
  const { oh, ow } = convOutput(s);
  const folded = foldBatchNorm(w, b, bn);
  const got = conv2dNchwCpu(x, folded.w, s, { bias: folded.b });
  for (let i = 0; i < plain.length; i++) {
    const c = Math.floor(i / (oh * ow)) % s.cout;
    const want = (plain[i]! - bn.mean[c]!) / Math.sqrt(bn.variance[c]! + bn.eps) * bn.scale[c]! + bn.shift[c]!;
    assert(Math.abs(got[i]! - want) < 1e-5, `#${i}: ${got[i]} vs ${want}`);
  }
});

gpuTest("conv kernel refuses a kernel that does not fit the image, before dispatching", async () => {
  await withDevice(({ device }) => {
    const conv = new GpuConv2d(device, "f32");
    const b = createBufferWith(device, "x", new Float32Array(64), GPUBufferUsage.STORAGE);
    throws(
      () => conv.run(b, b, { n: 1, h: 2, w: 2, cin: 1, cout: 1, kh: 5, kw: 5, sh: 1, sw: 1, ph: 0, pw: 0 }),
      /Conv 5x5 with padding 0,0 does not fit 2x2/,
    );
    throws(
      () => conv.run(b, b, { n: 1, h: 2, w: 2, cin: 1, cout: 1, kh: 1, kw: 1, sh: 0, sw: 1, ph: 0, pw: 0 }),
      /Conv sh/,
    );
    b.destroy();
    conv.release();
    return Promise.resolve();
  });
});

Deno.test("the engine's op set covers every fixture and canonical-builder graph, and refuses others by name", async () => {
  for (
    const f of [
      "models/fixtures/resnet-tiny/model.onnx",
      "models/fixtures/resnet-tiny-dyn/model.onnx",
      "models/fixtures/clip-tiny/visual/model.onnx",
      "models/fixtures/clip-tiny/textual/model.onnx",
      "models/fixtures/clip-tiny-dyn/visual/model.onnx",
      "models/fixtures/clip-tiny-dyn/textual/model.onnx",
    ]
  ) {
    const model = await readOnnx(`${ROOT}/${f}`);
    assertEquals(unsupportedOps(onnxOpCounts(model)), [], f);
    checkEngineOps(model, f); // does not throw
  }
  // Every op the canonical builders emit (lib/models/arch/*.ts) is covered.
  for (const file of ["clip_rn.ts", "resnet_tv.ts"]) {
    const src = Deno.readTextFileSync(`${ROOT}/lib/models/arch/${file}`);
    const ops = [...src.matchAll(/\.(?:op|node|addNode)\("([A-Z][A-Za-z]+)"/g)].map((m) => m[1]!);
    assert(ops.length > 5, `${file}: found the builder's ops`);
    assertEquals(ops.filter((op) => !ENGINE_OPS.has(op)), [], file);
  }
  // A graph with an op outside the set: two Loop nodes beside a Conv.
  const g = new OnnxGraph("refused");
  const x = g.input("x", "float32", [1, 1, 2, 2]);
  const y = g.op("Loop", [g.op("Loop", [g.op("Conv", [x])])]);
  g.output(y, "float32", [1, 1, 2, 2]);
  throws(
    () => checkEngineOps(g.toBytes(), "x.onnx"),
    /^ClipcmpError: --engine wgsl: x\.onnx uses Loop \(2 nodes\), which the WGSL engine does not run; use --engine ort/,
  );
});

gpuTest(
  "pool kernel matches float64 NCHW pooling: ResNet's 3x3/2 max-pool, padded averages, global average",
  async () => {
    const r = rng(33);
    await withDevice(async ({ device }) => {
      const pool = new GpuPool(device, "f32");
      const cases: [PoolShape, "max" | "average", boolean][] = [
        [{ n: 1, h: 13, w: 12, c: 5, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 }, "max", false],
        [{ n: 3, h: 7, w: 9, c: 3, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 }, "average", false],
        [{ n: 3, h: 7, w: 9, c: 3, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 }, "average", true],
        [{ n: 2, h: 8, w: 8, c: 7, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0 }, "average", false], // CLIP's AvgPool2d(2)
      ];
      for (const [s, mode, cip] of cases) {
        const xNchw = rand(r, s.n * s.c * s.h * s.w);
        const { oh, ow } = poolOutput(s);
        const want = nchwToNhwc(poolNchwCpu(xNchw, s, mode, cip), s.n, s.c, oh, ow);
        const xb = createBufferWith(
          device,
          "x",
          Float32Array.from(nchwToNhwc(xNchw, s.n, s.c, s.h, s.w)),
          GPUBufferUsage.STORAGE,
        );
        const y = pool.run(xb, s, mode, cip);
        const got = new Float32Array(await readBuffer(device, y, 0, want.length * 4));
        xb.destroy();
        y.destroy();
        for (let j = 0; j < want.length; j++) {
          assert(
            Math.abs(got[j]! - want[j]!) <= 1e-6 * Math.max(1, Math.abs(want[j]!)),
            `${mode} ${JSON.stringify(s)} #${j}: ${got[j]} vs ${want[j]}`,
          );
        }
      }
      // GlobalAveragePool over a 7x7 map of 2048 channels at batch 3.
      const g = { n: 3, h: 7, w: 7, c: 2048 };
      const x = rand(r, g.n * g.h * g.w * g.c); // already NHWC
      const xb = createBufferWith(device, "x", x, GPUBufferUsage.STORAGE);
      const y = pool.global(xb, g);
      const got = new Float32Array(await readBuffer(device, y, 0, g.n * g.c * 4));
      xb.destroy();
      y.destroy();
      for (const [b, ch] of [[0, 0], [1, 1000], [2, 2047]] as const) {
        let sum = 0;
        for (let i = 0; i < 49; i++) sum += x[(b * 49 + i) * g.c + ch]!;
        assert(Math.abs(got[b * g.c + ch]! - sum / 49) < 1e-6, `global ${b},${ch}`);
      }
      throws(
        () => pool.run(xb, { n: 1, h: 2, w: 2, c: 1, kh: 2, kw: 2, sh: 1, sw: 1, ph: 2, pw: 0 }, "max"),
        /padding 2,0 must be below/,
      );
    });
  },
);

gpuTest(
  "row softmax and LayerNorm match float64 on rows shorter and longer than a workgroup, batch 1 and 3",
  async () => {
    const r = rng(44);
    await withDevice(async ({ device }) => {
      const rn = new GpuRowNorm(device, "f32");
      try {
        for (const [rows, d] of [[1, 1], [3, 7], [3 * 50, 50], [2, 1000], [77, 512], [1, 2049]] as const) {
          const x = Float32Array.from(rand(r, rows * d), (v) => 6 * v); // spread, so softmax's max shift matters
          const gamma = rand(r, d), beta = rand(r, d);
          const up = (a: Float32Array, label: string) => createBufferWith(device, label, a, GPUBufferUsage.STORAGE);
          const [xb, gb, bb] = [up(x, "x"), up(gamma, "gamma"), up(beta, "beta")];
          const sm = rn.softmax(xb, { rows, d });
          const ln = rn.layerNorm(xb, gb, bb, { rows, d, eps: 1e-5 });
          const gotS = new Float32Array(await readBuffer(device, sm, 0, rows * d * 4));
          const gotL = new Float32Array(await readBuffer(device, ln, 0, rows * d * 4));
          for (const b of [xb, gb, bb, sm, ln]) b.destroy();
          for (let i = 0; i < rows; i++) {
            const row = Array.from(x.subarray(i * d, (i + 1) * d));
            const m = Math.max(...row);
            const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
            const mean = row.reduce((s, v) => s + v, 0) / d;
            const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / d;
            for (let j = 0; j < d; j++) {
              const ws = Math.exp(row[j]! - m) / z;
              const wl = (row[j]! - mean) / Math.sqrt(variance + 1e-5) * gamma[j]! + beta[j]!;
              assert(Math.abs(gotS[i * d + j]! - ws) <= 1e-6 + 1e-5 * ws, `softmax [${rows},${d}] ${i},${j}`);
              assert(
                Math.abs(gotL[i * d + j]! - wl) <= 1e-4 * Math.max(1, Math.abs(wl)),
                `layernorm [${rows},${d}] ${i},${j}`,
              );
            }
          }
        }
        throws(() => new GpuRowNorm(device, "f32", 96), /power of two/);
      } finally {
        rn.release();
      }
    });
  },
);
