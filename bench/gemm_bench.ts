/**
 * The WGSL engine's GEMM kernel (issue 18) at ResNet-50 and CLIP shapes, per tile set, in one run: GFLOP/s is
 * 2·M·N·K per iteration over the mean time deno bench prints. On llvmpipe this is a correctness-speed check only;
 * the tile table per adapter comes from a GPU run (tools/device_bench.sh).
 *
 * Shapes (M = images × positions, N = output channels, K = input channels):
 * - rn50-s4-1x1: a stage-4 1×1 conv at batch 8, 8·7·7 × 2048 × 512;
 * - clip-mlp: a ViT-B/32 MLP at batch 1, 50 × 3072 × 768.
 */
import { requestGpu } from "../lib/gpu/context.ts";
import { createBufferWith, readBuffer } from "../lib/gpu/readback.ts";
import { DEFAULT_GEMM_TILES, type GemmTiles, GpuGemm } from "../kernels/gemm.ts";

const gpu = await requestGpu();
const SHAPES: Record<string, { m: number; n: number; k: number }> = {
  "rn50-s4-1x1": { m: 8 * 49, n: 2048, k: 512 },
  "clip-mlp": { m: 50, n: 3072, k: 768 },
};
const TILES: Record<string, GemmTiles> = { default: DEFAULT_GEMM_TILES, "32x32x8": { m: 32, n: 32, k: 8 } };

if (gpu) {
  const { device } = gpu;
  for (const [shapeName, shape] of Object.entries(SHAPES)) {
    const a = createBufferWith(device, "A", new Float32Array(shape.m * shape.k).fill(0.5), GPUBufferUsage.STORAGE);
    const b = createBufferWith(device, "B", new Float32Array(shape.k * shape.n).fill(0.25), GPUBufferUsage.STORAGE);
    const gflop = (2 * shape.m * shape.n * shape.k) / 1e9;
    for (const [tileName, tiles] of Object.entries(TILES)) {
      const gemm = new GpuGemm(device, "f32", tiles);
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
} else {
  console.warn("gemm bench: no WebGPU adapter; skipped");
}
