/**
 * From model outputs to probabilities, on the GPU (our WGSL kernels) when the outputs are there, else on the
 * CPU path. Only the final probabilities are read back.
 *
 * @module
 */
import { GpuCosine } from "../kernels/cosine.ts";
import { GpuSoftmax } from "../kernels/softmax.ts";
import { cosineCpu, softmaxCpu } from "./math/cpu.ts";
import { readBuffer } from "./gpu/readback.ts";
import type { Rows } from "./models/vision.ts";

const cosines = new WeakMap<GPUDevice, GpuCosine>();
const softmaxes = new WeakMap<GPUDevice, GpuSoftmax>();

function cosineFor(device: GPUDevice): GpuCosine {
  let k = cosines.get(device);
  if (!k) cosines.set(device, k = new GpuCosine(device, "f32"));
  return k;
}

function softmaxFor(device: GPUDevice): GpuSoftmax {
  let k = softmaxes.get(device);
  if (!k) softmaxes.set(device, k = new GpuSoftmax(device));
  return k;
}

/** Which device a row set lives on, for GPU rows. */
export interface GpuRowsDevice {
  /** The device owning the buffers. */
  device: GPUDevice;
}

/**
 * Zero-shot probabilities: softmax(scale * cos(image, text)) over the texts, per image.
 *
 * @example
 * ```ts
 * import { zeroShotProbs } from "./scoring.ts";
 * const img = { where: "cpu" as const, data: new Float32Array([1, 0]), rows: 1, width: 2 };
 * const txt = { where: "cpu" as const, data: new Float32Array([1, 0, 0, 1]), rows: 2, width: 2 };
 * const p = await zeroShotProbs(img, txt, 100);
 * if (!(p[0]! > 0.999)) throw new Error(String(p[0]));
 * ```
 * @param images [n, d] embeddings.
 * @param texts [c, d] embeddings.
 * @param scale The logit scale (100 for CLIP).
 * @param gpu The device, required when the rows are on the GPU.
 * @returns [n, c] probabilities and the cosine similarities.
 */
export async function zeroShotProbs(
  images: Rows,
  texts: Rows,
  scale: number,
  gpu?: GpuRowsDevice,
): Promise<Float32Array> {
  return (await zeroShotDetail(images, texts, scale, gpu)).probs;
}

/**
 * Like {@linkcode zeroShotProbs}, also returning the cosine similarities.
 *
 * @param images [n, d] embeddings.
 * @param texts [c, d] embeddings.
 * @param scale The logit scale.
 * @param gpu The device, required when the rows are on the GPU.
 * @returns Probabilities and cosines, both [n, c].
 */
export async function zeroShotDetail(
  images: Rows,
  texts: Rows,
  scale: number,
  gpu?: GpuRowsDevice,
): Promise<{ probs: Float32Array; cosines: Float32Array }> {
  if (images.width !== texts.width) throw new RangeError(`Embedding widths differ: ${images.width} vs ${texts.width}`);
  const n = images.rows, c = texts.rows, d = images.width;
  if (images.where === "gpu" && texts.where === "gpu") {
    if (!gpu) throw new TypeError("zeroShotDetail needs the device for GPU rows");
    const sims = cosineFor(gpu.device).run(images.buffer, texts.buffer, { b: n, c, d });
    const probs = softmaxFor(gpu.device).run(sims, { rows: n, n: c, scale });
    try {
      const [p, s] = await Promise.all([
        readBuffer(gpu.device, probs, 0, n * c * 4),
        readBuffer(gpu.device, sims, 0, n * c * 4),
      ]);
      return { probs: new Float32Array(p), cosines: new Float32Array(s) };
    } finally {
      sims.destroy();
      probs.destroy();
    }
  }
  if (images.where !== "cpu" || texts.where !== "cpu") {
    throw new TypeError("Image and text rows must both be on the CPU or both on the GPU");
  }
  const sims = cosineCpu(images.data, texts.data, n, c, d);
  return { probs: Float32Array.from(softmaxCpu(sims, n, c, scale)), cosines: Float32Array.from(sims) };
}

/**
 * Classifier probabilities: softmax over each row's logits, restricted to `columns` when given.
 *
 * @param logits [n, k] logits.
 * @param columns Selected class indices; all when omitted.
 * @param gpu The device, required when the rows are on the GPU.
 * @returns [n, columns.length] probabilities.
 */
export async function classProbs(
  logits: Rows,
  columns?: readonly number[],
  gpu?: GpuRowsDevice,
): Promise<Float32Array> {
  const m = columns?.length ?? logits.width;
  if (logits.where === "gpu") {
    if (!gpu) throw new TypeError("classProbs needs the device for GPU rows");
    const probs = softmaxFor(gpu.device).run(logits.buffer, { rows: logits.rows, n: logits.width, scale: 1, columns });
    try {
      return new Float32Array(await readBuffer(gpu.device, probs, 0, logits.rows * m * 4));
    } finally {
      probs.destroy();
    }
  }
  return Float32Array.from(softmaxCpu(logits.data, logits.rows, logits.width, 1, columns));
}

/**
 * Reads rows to the CPU (for tests and `--json` detail); GPU rows cost one readback.
 *
 * @param rows The rows.
 * @param gpu The device, required when the rows are on the GPU.
 * @returns The data.
 */
export async function rowsToHost(rows: Rows, gpu?: GpuRowsDevice): Promise<Float32Array> {
  if (rows.where === "cpu") return rows.data;
  if (!gpu) throw new TypeError("rowsToHost needs the device for GPU rows");
  return new Float32Array(await readBuffer(gpu.device, rows.buffer, 0, rows.rows * rows.width * 4));
}

/**
 * Frees GPU rows; no-op for CPU rows.
 *
 * @param rows The rows.
 */
export function releaseRows(rows: Rows): void {
  if (rows.where === "gpu") rows.buffer.destroy();
}
