/**
 * The classification pipeline from image files to top-k class indices, in overlapping stages:
 *
 * 1. decode: a {@linkcode DecodePool} decodes the next batches on worker threads while the current one runs;
 * 2. upload + preprocess: source windows go to the GPU and our WGSL kernel writes the model's input buffer;
 * 3. model: ORT runs the graph on that buffer; outputs stay on the GPU;
 * 4. top-k: softmax and top-k kernels run on the outputs and only k indices per image are read back. The
 *    readback of batch i is awaited after batch i+1 has been submitted, so the GPU always has work queued.
 *
 * Used by `deno task eval` and by the end-to-end benchmark.
 *
 * @module
 */
import type { ClipModel } from "./models/clip.ts";
import type { ResnetModel } from "./models/resnet.ts";
import type { Rows, StageClock } from "./models/vision.ts";
import type { DecodePool } from "./image/pool.ts";
import type { RgbaImage } from "./image/decode.ts";
import { classTopK, finiteOrThrow, releaseRows, zeroShotTopK } from "./scoring.ts";
import { CLIP_LOGIT_SCALE } from "./models/clip.ts";
import { firstLine } from "./errors.ts";

/** One image to classify. */
export interface PipelineItem {
  /** The file. */
  path: string;
  /** True ImageNet index (carried through, not used). */
  index: number;
}

/** One classified image: the k best class indices per model, best first. */
export interface Classified extends PipelineItem {
  /** Top-k ImageNet indices per model ("clip", "resnet"). */
  top: Record<string, number[]>;
}

/** What the pipeline needs of CLIP: its image tower. */
export type ImageEncoder = Pick<ClipModel, "encodeImages">;
/** What the pipeline needs of a classifier: its logits. */
export type Classifier = Pick<ResnetModel, "logits">;

/** The models and the label set. */
export interface PipelineModels {
  /** CLIP and its zero-shot head ([columns, dim] text embeddings, one row per scored class). */
  clip?: { model: ImageEncoder; head: Rows };
  /** The ResNet. */
  resnet?: Classifier;
  /** Scored class ids (a 200-class subset, a class-name dataset's classes), or null for all 1000. */
  columns: readonly number[] | null;
  /** The ResNets' columns when they differ from CLIP's (a class-name dataset: only the classes in ImageNet). */
  resnetColumns?: readonly number[] | null;
  /** Further models, each under its own key (`clip_2`, `resnet_2`, ...), on the same images and columns. */
  more?: ({ key: string; clip: { model: ImageEncoder; head: Rows } } | { key: string; resnet: Classifier })[];
}

/** Main-thread milliseconds per stage, and the totals. */
export interface PipelineTimes extends StageClock {
  /** Waiting for decoded images. */
  decode: number;
  /** Waiting for the top-k readback. */
  topk: number;
  /** The caller's `onBatch` (writing results). */
  write: number;
  /** Wall time of the whole run. */
  wall: number;
  /** Images classified. */
  images: number;
}

/** Options of {@linkcode classifyFiles}. */
export interface PipelineOptions {
  /** Images per step. */
  batch: number;
  /** k (at most 10, at most the number of scored classes). */
  k: number;
  /** The decoders. */
  pool: DecodePool;
  /** Batches decoded ahead (default 2). */
  prefetch?: number;
  /** Receives each batch's results in order; awaited before the next batch's results are handed over. */
  onBatch: (results: Classified[]) => Promise<void> | void;
  /** Told about each file that could not be decoded (it is left out). */
  onSkip?: (path: string, message: string) => void;
  /** Run the stages one after another instead of overlapping them (for measuring what overlap buys). */
  sequential?: boolean;
}

/**
 * Classifies `items` with the given models, overlapping decode, GPU work and readback.
 *
 * @example
 * ```ts ignore
 * using pool = new DecodePool();
 * const times = await classifyFiles(items, { resnet, columns: null, gpu }, {
 *   batch: 32, k: 5, pool, onBatch: (rs) => rs.forEach((r) => console.log(r.path, r.top.resnet)),
 * });
 * ```
 * @param items The files.
 * @param models The models.
 * @param options Batch size, k, the pool and the result sink.
 * @returns Stage times.
 */
export async function classifyFiles(
  items: readonly PipelineItem[],
  models: PipelineModels,
  options: PipelineOptions,
): Promise<PipelineTimes> {
  const { batch, k, pool } = options;
  const prefetch = options.sequential ? 0 : Math.max(0, options.prefetch ?? 2);
  const times: PipelineTimes = { decode: 0, upload: 0, model: 0, topk: 0, write: 0, wall: 0, images: 0 };
  const start = performance.now();
  const batches: PipelineItem[][] = [];
  for (let i = 0; i < items.length; i += batch) batches.push(items.slice(i, i + batch));
  const decodeBatch = (b: readonly PipelineItem[]) => Promise.allSettled(b.map((it) => pool.decode(it.path)));
  const ahead: Promise<PromiseSettledResult<RgbaImage>[]>[] = [];
  let next = 0; // next batch to start decoding
  let current = 0; // next batch to run
  const fill = () => {
    while (next < batches.length && ahead.length <= prefetch) ahead.push(decodeBatch(batches[next++]!));
  };
  const columns = models.columns ?? undefined;
  const resnetColumns = models.resnetColumns === undefined ? columns : models.resnetColumns ?? undefined;
  // Every model once, with its key, the name its non-finite errors give, its columns and its k (a ResNet may score
  // fewer classes than k).
  const scorers = [
    ...(models.clip ? [{ key: "clip", label: "CLIP", clip: models.clip }] : []),
    ...(models.resnet ? [{ key: "resnet", label: "ResNet", resnet: models.resnet }] : []),
    ...(models.more ?? []).map((m) => ({ label: m.key, ...m })),
  ].map((sc) => {
    const cols = "clip" in sc ? columns : resnetColumns;
    return { ...sc, cols, k: Math.min(k, cols?.length ?? 1000) };
  });
  let pending: Promise<Classified[]> | null = null;
  const flush = async () => {
    if (!pending) return;
    const p = pending;
    pending = null;
    let t = performance.now();
    const results = await p;
    times.topk += performance.now() - t;
    t = performance.now();
    await options.onBatch(results);
    times.write += performance.now() - t;
    times.images += results.length;
  };
  try {
    fill();
    while (ahead.length) {
      const t = performance.now();
      const settled = await ahead.shift()!;
      times.decode += performance.now() - t;
      const b = batches[current++]!;
      fill();
      const ok: { item: PipelineItem; image: RgbaImage }[] = [];
      settled.forEach((s, j) => {
        if (s.status === "fulfilled") ok.push({ item: b[j]!, image: s.value });
        else options.onSkip?.(b[j]!.path, firstLine(s.reason));
      });
      if (ok.length === 0) continue;
      const images = ok.map((o) => o.image);
      const clock = { upload: 0, model: 0 };
      const paths = ok.map((o) => o.item.path);
      // Each model's top-k kernel is submitted as soon as its outputs exist, nothing is awaited but the models;
      // the readbacks are awaited one batch later, and each frees its model's rows.
      const jobs = [];
      for (const sc of scorers) {
        const opts = { maxBatch: batch, clock };
        const rows: Rows = "clip" in sc
          ? await sc.clip.model.encodeImages(images, opts)
          : await sc.resnet.logits(images, opts);
        const top = "clip" in sc
          ? zeroShotTopK(rows, sc.clip.head, CLIP_LOGIT_SCALE, sc.k)
          : classTopK(rows, sc.cols, sc.k);
        const job = finiteOrThrow(sc.label, paths, top).then((t) => t.indices).finally(() => releaseRows(rows));
        job.catch(() => {}); // awaited below; no unhandled rejection meanwhile
        jobs.push(job);
      }
      times.upload += clock.upload;
      times.model += clock.model;
      const launched = Promise.all(jobs).then((indices) =>
        ok.map(({ item }, j) => ({
          ...item,
          top: Object.fromEntries(scorers.map((sc, i) => {
            const cols = sc.cols;
            return [sc.key, Array.from(indices[i]!.subarray(j * sc.k, (j + 1) * sc.k), (c) => (cols ? cols[c]! : c))];
          })),
        }))
      );
      launched.catch(() => {}); // awaited in flush(); avoid an unhandled rejection while the next batch runs
      if (options.sequential) {
        pending = launched;
        await flush();
      } else {
        await flush();
        pending = launched;
      }
    }
    await flush();
  } finally {
    if (pending) await (pending as Promise<Classified[]>).catch(() => {});
  }
  times.wall = performance.now() - start;
  return times;
}
