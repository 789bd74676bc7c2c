/**
 * The WGSL kernels and their drivers: preprocessing (PIL/torchvision-exact resize, crop, normalise), cosine
 * similarity, softmax over selected columns, top-k with non-finite flagging; and the engine's kernels: a tiled GEMM
 * with a fused bias/residual/activation epilogue (also convolution, as an implicit GEMM over NHWC activations),
 * max/average pooling, and row-wise softmax and LayerNorm. Each takes a `GPUDevice`; f16 variants need
 * `shader-f16`.
 *
 * @example Softmax of logits on the GPU, read back (skipped when there is no adapter)
 * ```ts
 * import { GpuSoftmax } from "./mod.ts";
 * import { requestGpu } from "../lib/gpu/context.ts";
 * import { createBufferWith, readBuffer } from "../lib/gpu/readback.ts";
 * const gpu = await requestGpu();
 * if (gpu) {
 *   const logits = createBufferWith(gpu.device, "logits", new Float32Array([1, 2, 3, 4]), GPUBufferUsage.STORAGE);
 *   const probs = new GpuSoftmax(gpu.device).run(logits, { rows: 1, n: 4, scale: 1, columns: [1, 3] });
 *   const p = new Float32Array(await readBuffer(gpu.device, probs, 0, 8));
 *   if (Math.abs(p[0]! + p[1]! - 1) > 1e-6 || !(p[1]! > p[0]!)) throw new Error(`${p}`);
 *   gpu.destroy();
 * }
 * ```
 *
 * @module
 */
export { GpuPreprocessor, type PreprocessTunables } from "./preprocess.ts";
export { GpuCosine } from "./cosine.ts";
export { GpuSoftmax } from "./softmax.ts";
export { GpuTopK, MAX_TOP_K } from "./topk.ts";
export { GpuShift } from "./shift.ts";
export { DEFAULT_GEMM_TILES, type GemmActivation, type GemmTiles, GpuGemm } from "./gemm.ts";
export { convOutput, type ConvShape, foldBatchNorm, GpuConv2d, repackConvWeights } from "./conv2d.ts";
export { GpuPool, poolOutput, type PoolShape } from "./pool.ts";
export { GpuRowNorm } from "./rownorm.ts";
