/**
 * The WGSL engine's GEMM kernel (issue 18) at ResNet-50 and CLIP shapes, per tile set, in one run: GFLOP/s is
 * 2·M·N·K per iteration over the mean time deno bench prints. On llvmpipe this is a correctness-speed check only;
 * the tile table per adapter comes from a GPU run (tools/device_bench.sh).
 *
 * Shapes (M = images × positions, N = output channels, K = input channels):
 * - rn50-s4-1x1: a stage-4 1×1 conv at batch 8, 8·7·7 × 2048 × 512;
 * - clip-mlp: a ViT-B/32 MLP at batch 1, 50 × 3072 × 768;
 * - rn50-s3-3x3: a stage-3 3×3 conv as an implicit GEMM at batch 8, 8·14·14 × 256 × 9·256.
 */
import { requestGpu } from "../lib/gpu/context.ts";
import { createBufferWith, readBuffer } from "../lib/gpu/readback.ts";
import { DEFAULT_GEMM_TILES, type GemmTiles, GpuGemm } from "../kernels/gemm.ts";
import { convOutput, type ConvShape, GpuConv2d } from "../kernels/conv2d.ts";

const gpu = await requestGpu();
const SHAPES: Record<string, { m: number; n: number; k: number }> = {
  "rn50-s4-1x1": { m: 8 * 49, n: 2048, k: 512 },
  "clip-mlp": { m: 50, n: 3072, k: 768 },
};
// CLIPCMP_BENCH_TILES: the sweep, as MxNxK sets (default: the default tiles and 32x32x8); sets beyond the device's
// workgroup limits are skipped with a note.
const TILES: Record<string, GemmTiles> = { default: DEFAULT_GEMM_TILES };
for (const t of (Deno.env.get("CLIPCMP_BENCH_TILES") ?? "32x32x8").split(",").map((x) => x.trim()).filter(Boolean)) {
  const [m, n, k] = t.split("x").map(Number);
  if (!m || !n || !k) throw new Error(`CLIPCMP_BENCH_TILES: "${t}" is not MxNxK`);
  if (t !== `${DEFAULT_GEMM_TILES.m}x${DEFAULT_GEMM_TILES.n}x${DEFAULT_GEMM_TILES.k}`) TILES[t] = { m, n, k };
}

if (gpu) {
  const { device } = gpu;
  for (const [shapeName, shape] of Object.entries(SHAPES)) {
    const a = createBufferWith(device, "A", new Float32Array(shape.m * shape.k).fill(0.5), GPUBufferUsage.STORAGE);
    const b = createBufferWith(device, "B", new Float32Array(shape.k * shape.n).fill(0.25), GPUBufferUsage.STORAGE);
    const gflop = (2 * shape.m * shape.n * shape.k) / 1e9;
    for (const [tileName, tiles] of Object.entries(TILES)) {
      let gemm: GpuGemm;
      try {
        gemm = new GpuGemm(device, "f32", tiles);
      } catch (err) {
        console.warn(`SKIP tiles ${tileName}: ${(err as Error).message}`);
        continue;
      }
      Deno.bench({
        name: `gemm ${shapeName} tiles ${tileName} (${gflop.toFixed(2)} GFLOP per iteration)`,
        group: `gemm ${shapeName}`,
        baseline: tileName === "default",
        async fn() {
          const c = gemm.run(a, b, shape, { activation: "relu" });
          await readBuffer(device, c, 0, 16); // waits for the dispatch
          c.destroy();
        },
      });
    }
  }
  const s: ConvShape = { n: 8, h: 14, w: 14, cin: 256, cout: 256, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 };
  const { oh, ow } = convOutput(s);
  const x = createBufferWith(device, "x", new Float32Array(s.n * s.h * s.w * s.cin).fill(0.5), GPUBufferUsage.STORAGE);
  const w = createBufferWith(device, "w", new Float32Array(9 * s.cin * s.cout).fill(0.01), GPUBufferUsage.STORAGE);
  const gflop = (2 * s.n * oh * ow * s.cout * 9 * s.cin) / 1e9;
  for (const [tileName, tiles] of Object.entries(TILES)) {
    const conv = new GpuConv2d(device, "f32", tiles);
    Deno.bench({
      name: `conv rn50-s3-3x3 tiles ${tileName} (${gflop.toFixed(2)} GFLOP per iteration)`,
      group: "conv rn50-s3-3x3",
      baseline: tileName === "default",
      async fn() {
        const y = conv.run(x, w, s, { activation: "relu" });
        await readBuffer(device, y, 0, 16);
        y.destroy();
      },
    });
  }
} else {
  console.warn("gemm bench: no WebGPU adapter; skipped");
}
