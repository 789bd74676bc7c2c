/**
 * From model outputs to probabilities, on the GPU (our WGSL kernels) when the outputs are there, else on the
 * CPU path. Only the final probabilities are read back.
 *
 * @module
 */
import { ClipcmpError } from "./errors.ts";
import { GpuCosine } from "../kernels/cosine.ts";
import { GpuSoftmax } from "../kernels/softmax.ts";
import { GpuTopK, MAX_TOP_K } from "../kernels/topk.ts";
import { UsageError } from "./errors.ts";
import { cosineCpu, softmaxCpu, topK } from "./math/cpu.ts";
import { readBuffer } from "./gpu/readback.ts";
import type { Rows } from "./models/vision.ts";

const kernels = new WeakMap<GPUDevice, { cosine?: GpuCosine; softmax?: GpuSoftmax; topk?: GpuTopK }>();

/**
 * A top-k request, checked: an integer from 1 to {@linkcode MAX_TOP_K} (the top-k kernel's limit).
 *
 * @example
 * ```ts
 * import { checkedTopK } from "./scoring.ts";
 * if (checkedTopK("--top-k", "3") !== 3) throw new Error();
 * ```
 * @param name The flag or option, for the message.
 * @param value The given value (a number, or a flag's text).
 * @returns The number.
 */
export function checkedTopK(name: string, value: number | string): number {
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1 || k > MAX_TOP_K) {
    throw new UsageError(`${name} must be an integer from 1 to ${MAX_TOP_K}, got ${JSON.stringify(String(value))}`);
  }
  return k;
}

/** One instance of each kernel per device: pipelines are built once. */
function kernel<K extends "cosine" | "softmax" | "topk">(
  device: GPUDevice,
  name: K,
): NonNullable<{ cosine: GpuCosine; softmax: GpuSoftmax; topk: GpuTopK }[K]> {
  let entry = kernels.get(device);
  if (!entry) kernels.set(device, entry = {});
  const make = {
    cosine: () => new GpuCosine(device, "f32"),
    softmax: () => new GpuSoftmax(device),
    topk: () => new GpuTopK(device),
  };
  return (entry[name] ??= make[name]() as never) as never;
}

/** The k best columns per row: positions in the scored columns, and their probabilities. */
export interface TopKRows {
  /** Rows. */
  rows: number;
  /** k per row. */
  k: number;
  /** Row-major [rows, k] column positions, best first. */
  indices: Uint32Array;
  /** Row-major [rows, k] probabilities. */
  values: Float32Array;
}

/** Marks a row whose scores hold NaN or ±Inf, as the GPU top-k kernel does: every index is this value. */
export const NON_FINITE_ROW = 0xffffffff;

/** A model output that holds NaN or ±Inf: nothing may be scored from it. */
export class NonFiniteError extends Error {
  /** @param row The first offending row. */
  constructor(readonly row: number) {
    super(`row ${row} holds a non-finite value (NaN or Inf)`);
    this.name = "NonFiniteError";
  }
}

/**
 * Throws {@linkcode NonFiniteError} for the first row the top-k marked as non-finite.
 *
 * @param top A top-k result.
 * @returns The same result.
 */
export function checkFinite(top: TopKRows): TopKRows {
  for (let r = 0; r < top.rows; r++) if (top.indices[r * top.k] === NON_FINITE_ROW) throw new NonFiniteError(r);
  return top;
}

/**
 * Awaits a top-k, turning a non-finite output into a one-line error that names the model and the first image
 * whose scores held NaN or Inf: nothing is scored from such an output.
 *
 * @param model The model file (or name) for the message.
 * @param paths The images of the rows, in order.
 * @param top The top-k being computed.
 * @returns Its result.
 */
export async function finiteOrThrow(
  model: string,
  paths: readonly string[],
  top: Promise<TopKRows>,
): Promise<TopKRows> {
  try {
    return await top;
  } catch (err) {
    if (!(err instanceof NonFiniteError)) throw err;
    throw new ClipcmpError(
      `Model "${model}" gave a non-finite output (NaN or Inf) for "${
        paths[err.row] ?? `row ${err.row}`
      }"; nothing was scored from it (a broken fp16 graph, or a preprocessing config that divides by zero?)`,
    );
  }
}

function topKHost(probs: ArrayLike<number>, rows: number, m: number, k: number): TopKRows {
  const indices = new Uint32Array(rows * k);
  const values = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < m; j++) {
      if (!Number.isFinite(probs[r * m + j]!)) {
        indices.fill(NON_FINITE_ROW, r * k, (r + 1) * k);
        values.fill(NaN, r * k, (r + 1) * k);
        break;
      }
    }
    if (indices[r * k] === NON_FINITE_ROW) continue;
    const row = Array.from({ length: m }, (_, j) => probs[r * m + j]!);
    topK(row, k).forEach((j, s) => {
      indices[r * k + s] = j;
      values[r * k + s] = row[j]!;
    });
  }
  return { rows, k, indices, values };
}

/**
 * Zero-shot top-k: softmax(scale * cos(image, text)) per image, and only its k best texts leave the GPU.
 *
 * @param images [n, d] embeddings.
 * @param texts [c, d] embeddings.
 * @param scale The logit scale (100 for CLIP).
 * @param k How many, at most min(10, c).
 * @returns Top-k text positions and probabilities per image.
 */
export async function zeroShotTopK(
  images: Rows,
  texts: Rows,
  scale: number,
  k: number,
): Promise<TopKRows> {
  if (images.width !== texts.width) throw new RangeError(`Embedding widths differ: ${images.width} vs ${texts.width}`);
  const n = images.rows, c = texts.rows, d = images.width;
  if (images.where === "gpu" && texts.where === "gpu") {
    if (images.device !== texts.device) throw new TypeError("Image and text rows are on different GPU devices");
    const { device } = images;
    const sims = kernel(device, "cosine").run(images.buffer, texts.buffer, { b: n, c, d });
    const probs = kernel(device, "softmax").run(sims, { rows: n, n: c, scale });
    try {
      return checkFinite({ rows: n, k, ...(await kernel(device, "topk").read(probs, { rows: n, n: c, k })) });
    } finally {
      sims.destroy();
      probs.destroy();
    }
  }
  if (images.where !== "cpu" || texts.where !== "cpu") {
    throw new TypeError("Image and text rows must both be on the CPU or both on the GPU");
  }
  return checkFinite(topKHost(softmaxCpu(cosineCpu(images.data, texts.data, n, c, d), n, c, scale), n, c, k));
}

/**
 * Classifier top-k: softmax over each row's logits (restricted to `columns` when given), and only the k best
 * leave the GPU.
 *
 * @param logits [n, width] logits.
 * @param columns Selected class indices; all when omitted.
 * @param k How many, at most min(10, columns).
 * @returns Top-k positions within `columns` (class indices when all) and probabilities per row.
 */
export async function classTopK(
  logits: Rows,
  columns: readonly number[] | undefined,
  k: number,
): Promise<TopKRows> {
  const m = columns?.length ?? logits.width;
  if (logits.where === "gpu") {
    const { device } = logits;
    const probs = kernel(device, "softmax").run(logits.buffer, {
      rows: logits.rows,
      n: logits.width,
      scale: 1,
      columns,
    });
    try {
      return checkFinite({
        rows: logits.rows,
        k,
        ...(await kernel(device, "topk").read(probs, { rows: logits.rows, n: m, k })),
      });
    } finally {
      probs.destroy();
    }
  }
  return checkFinite(topKHost(softmaxCpu(logits.data, logits.rows, logits.width, 1, columns), logits.rows, m, k));
}

/**
 * Zero-shot probabilities softmax(scale * cos(image, text)) over the texts per image, and the cosine
 * similarities, both read back in full (for tests and detail output; {@linkcode zeroShotTopK} reads less).
 *
 * @example
 * ```ts
 * import { zeroShotDetail } from "./scoring.ts";
 * const img = { where: "cpu" as const, data: new Float32Array([1, 0]), rows: 1, width: 2 };
 * const txt = { where: "cpu" as const, data: new Float32Array([1, 0, 0, 1]), rows: 2, width: 2 };
 * const { probs } = await zeroShotDetail(img, txt, 100);
 * if (!(probs[0]! > 0.999)) throw new Error(String(probs[0]));
 * ```
 *
 * @param images [n, d] embeddings.
 * @param texts [c, d] embeddings.
 * @param scale The logit scale.
 * @returns Probabilities and cosines, both [n, c].
 */
export async function zeroShotDetail(
  images: Rows,
  texts: Rows,
  scale: number,
): Promise<{ probs: Float32Array; cosines: Float32Array }> {
  if (images.width !== texts.width) throw new RangeError(`Embedding widths differ: ${images.width} vs ${texts.width}`);
  const n = images.rows, c = texts.rows, d = images.width;
  if (images.where === "gpu" && texts.where === "gpu") {
    if (images.device !== texts.device) throw new TypeError("Image and text rows are on different GPU devices");
    const { device } = images;
    const sims = kernel(device, "cosine").run(images.buffer, texts.buffer, { b: n, c, d });
    const probs = kernel(device, "softmax").run(sims, { rows: n, n: c, scale });
    try {
      const [p, s] = await Promise.all([
        readBuffer(device, probs, 0, n * c * 4),
        readBuffer(device, sims, 0, n * c * 4),
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
 * Reads rows to the CPU (for tests and `--json` detail); GPU rows cost one readback.
 *
 * @param rows The rows.
 * @returns The data.
 */
export async function rowsToHost(rows: Rows): Promise<Float32Array> {
  if (rows.where === "cpu") return rows.data;
  return new Float32Array(await readBuffer(rows.device, rows.buffer, 0, rows.rows * rows.width * 4));
}

/**
 * Frees GPU rows; no-op for CPU rows.
 *
 * @param rows The rows.
 */
export function releaseRows(rows: Rows): void {
  if (rows.where === "gpu") rows.buffer.destroy();
}
