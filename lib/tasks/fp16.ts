/**
 * The fp16 task's core, for the CLI (`deno task fp16`) and scripts alike: measures each chosen model in fp32 and in
 * fp16 (latency percentiles with warm-up apart, GPU timestamps where the adapter has them, throughput with data
 * kept on the GPU, peak GPU memory from buffer accounting) and their agreement on the sample images. fp16 figures
 * are measured only after the fp16 self-test passes.
 *
 * @module
 */
import { docHeader, type RunPlace, runPlace } from "../envelope.ts";
import { ClipcmpError } from "../errors.ts";
import type { Engine } from "../ort/session.ts";
import { type DeviceChoice, type ResolvedDevice, resolveDevice } from "../device.ts";
import { checkAgainstManifest, type ChosenModels } from "../models/resolve.ts";
import { CLIP_LOGIT_SCALE, ClipModel } from "../models/clip.ts";
import { ResnetModel } from "../models/resnet.ts";
import type { VisionGraph } from "../models/vision.ts";
import type { RgbaImage } from "../image/decode.ts";
import { releaseRows, rowsToHost, zeroShotDetail } from "../scoring.ts";
import { buildHead } from "../zeroshot.ts";
import { softmaxCpu, topK } from "../math/cpu.ts";
import { type Agreement, agreement, fp16ClipDir, fp16Model, fp16SelfCheck } from "../fp16.ts";
import { type BatchResult, benchBatch, noiseWarnings } from "../fp16_bench.ts";
import { type MemoryTracker, trackMemory } from "../gpu/memory.ts";
import { imagenetClasses } from "../data/imagenet.ts";
import type { GpuContext } from "../gpu/context.ts";

/** What to measure, with what. */
export interface Fp16Options {
  /** The chosen models: each one present is measured. */
  models: ChosenModels;
  /** The sample images (at least 2) with their true ImageNet class, for agreement and the self-test. */
  images: readonly { path: string; index: number; image: RgbaImage }[];
  /** Batch sizes to time (a graph with a fixed batch runs only that one). */
  batches: readonly number[];
  runs: number;
  warmup: number;
  device: DeviceChoice;
  /** The engine that runs the models (default `ort`). */
  engine?: Engine;
  cacheDir: string;
  log: (line: string) => void;
}

/** One precision's figures. */
export interface PrecisionResult {
  dtype: "fp32" | "fp16";
  model: string;
  weight_bytes: number;
  peak_gpu_bytes: number | null;
  batches: BatchResult[];
}

/** One top-5 entry of the sample image. */
export interface SampleScore {
  label: string;
  index: number;
  score: number;
}

/** One model's fp32-vs-fp16 figures. */
export interface ModelReport {
  /** The model's name (manifest entry or path). */
  name: string;
  fp32: PrecisionResult;
  fp16: PrecisionResult;
  skipped_batches: { batch: number; reason: string }[];
  /** What the figures say about the machine's noise, per batch size (empty when they hang together). */
  noise_warnings: string[];
  agreement: Agreement;
  self_test: string;
  sample: { path: string; fp32: SampleScore[]; fp16: SampleScore[] };
}

/** The fp16 document (`deno task fp16 --json`; docs/schemas/fp16.schema.json). */
export interface Fp16Document {
  tool: "clipcmp";
  version: string;
  task: "fp16";
  provenance: RunPlace & { runs: number; warmup: number };
  models: { clip?: ModelReport; resnet?: ModelReport };
}

async function weightBytes(paths: string[]): Promise<number> {
  let n = 0;
  for (const p of paths) n += (await Deno.stat(p)).size;
  return n;
}

function withMemory(d: ResolvedDevice, mem: MemoryTracker | null): ResolvedDevice {
  if (!d.gpu || !mem) return d;
  const gpu: GpuContext = { ...d.gpu, device: mem.device };
  return { ...d, gpu };
}

function skipped(asked: readonly number[], ran: BatchResult[]): { batch: number; reason: string }[] {
  return asked.filter((x) => ran.every((r) => r.batch !== x)).map((batch) => ({
    batch,
    reason: "the graph's batch is fixed",
  }));
}

/**
 * Runs the self-tests and the measurements, fp32 first, then fp16.
 *
 * @param opts What to measure, with what.
 * @returns The document.
 */
export async function runFp16(opts: Fp16Options): Promise<Fp16Document> {
  const { models: chosen, batches, runs, warmup, log, cacheDir } = opts;
  if (opts.images.length < 2) throw new ClipcmpError("fp16 needs at least 2 sample images named by WordNet id");
  const images = opts.images.map((x) => x.image);
  const firstPath = opts.images[0]!.path;
  const device = await resolveDevice(opts.device, opts.engine);
  log(device.reason);
  if (device.gpu && !device.gpu.summary.f16) {
    device.gpu.destroy();
    throw new ClipcmpError(
      `fp16 on webgpu needs working shader-f16: ${device.gpu.summary.f16Reason}; use --device wasm`,
    );
  }
  const mem = device.gpu ? trackMemory(device.gpu.device) : null;
  const dev = withMemory(device, mem);
  const models: Fp16Document["models"] = {};
  const classes = imagenetClasses();
  const labels = [...new Set(opts.images.map((x) => x.index))].sort((a, b) => a - b);

  const measure = async (
    graph: VisionGraph,
    dtype: "fp32" | "fp16",
    path: string,
    weights: number,
    baseline: number,
  ): Promise<PrecisionResult> => {
    const out: BatchResult[] = [];
    for (const b of batches) {
      if (graph.batch !== null && graph.batch !== b) continue;
      log(`${dtype}: batch ${b}, ${runs} runs`);
      out.push(await benchBatch(graph, b, { runs, warmup }));
    }
    return {
      dtype,
      model: path,
      weight_bytes: weights,
      peak_gpu_bytes: mem ? mem.peak - baseline : null,
      batches: out,
    };
  };
  const report = (
    name: string,
    a: { logits: Float32Array; probs: Float32Array; result: PrecisionResult },
    b: { logits: Float32Array; probs: Float32Array; result: PrecisionResult },
    width: number,
    top: (p: Float32Array) => SampleScore[],
  ): ModelReport => ({
    name,
    fp32: a.result,
    fp16: b.result,
    skipped_batches: skipped(batches, a.result.batches),
    noise_warnings: a.result.batches.flatMap((b32) => {
      const b16 = b.result.batches.find((x) => x.batch === b32.batch);
      return b16 ? noiseWarnings(b32, b16).map((w) => `batch ${b32.batch}: ${w}`) : [];
    }),
    agreement: agreement(a.logits, b.logits, a.probs, b.probs, images.length, width),
    self_test: "passed",
    sample: { path: firstPath, fp32: top(a.probs), fp16: top(b.probs) },
  });

  try {
    if (chosen.resnet) {
      const src = chosen.resnet.source;
      const half = await fp16Model(src.model, cacheDir, log);
      const runOne = async (path: string, dtype: "fp32" | "fp16", reference?: Float32Array) => {
        const base = mem?.live ?? 0;
        mem?.resetPeak();
        const model = await ResnetModel.load({ ...src, model: path }, dev);
        try {
          if (dtype === "fp32") checkAgainstManifest(chosen, undefined, model);
          const rows = await model.logits(images);
          const logits = await rowsToHost(rows);
          releaseRows(rows);
          const probs = Float32Array.from(softmaxCpu(logits, images.length, 1000, 1));
          if (reference) {
            const why = fp16SelfCheck(reference, probs, Math.min(4, images.length), 1000);
            if (why) throw new ClipcmpError(`fp16 self-test failed for ${path}: ${why}; not reporting fp16 figures`);
          }
          const result = await measure(model.graph, dtype, path, await weightBytes([path]), base);
          return { logits, probs, result };
        } finally {
          await model.release();
        }
      };
      const a = await runOne(src.model, "fp32");
      const b = await runOne(half, "fp16", a.probs);
      const top = (p: Float32Array) =>
        topK(p.subarray(0, 1000), 5).map((j) => ({ label: classes[j]!.clip, index: j, score: p[j]! }));
      models.resnet = report(chosen.resnet.name, a, b, 1000, top);
    }
    if (chosen.clip) {
      const halfDir = await fp16ClipDir(chosen.clip.dir, cacheDir, log);
      const names = labels.map((i) => classes[i]!.clip);
      const runOne = async (dir: string, dtype: "fp32" | "fp16") => {
        const base = mem?.live ?? 0;
        mem?.resetPeak();
        const clip = await ClipModel.load(dir, { ...dev, log });
        try {
          if (dtype === "fp32") checkAgainstManifest(chosen, clip);
          const head = await buildHead(clip, names, ["a photo of a {}."]);
          const img = await clip.encodeImages(images);
          const { probs, cosines } = await zeroShotDetail(img, head.rows, CLIP_LOGIT_SCALE);
          releaseRows(img);
          releaseRows(head.rows);
          const logits = cosines.map((c) => c * CLIP_LOGIT_SCALE);
          const weights = await weightBytes([`${dir}/visual/model.onnx`, `${dir}/textual/model.onnx`]);
          return { logits, probs, clip, weights, base };
        } catch (err) {
          await clip.release();
          throw err;
        }
      };
      const a = await runOne(chosen.clip.dir, "fp32");
      let aResult: PrecisionResult;
      try {
        aResult = await measure(a.clip.visual, "fp32", `${chosen.clip.dir}/visual/model.onnx`, a.weights, a.base);
      } finally {
        await a.clip.release();
      }
      const b = await runOne(halfDir, "fp16");
      try {
        const why = fp16SelfCheck(a.probs, b.probs, Math.min(4, images.length), labels.length);
        if (why) throw new ClipcmpError(`fp16 self-test failed for ${halfDir}: ${why}; not reporting fp16 figures`);
        const bResult = await measure(b.clip.visual, "fp16", `${halfDir}/visual/model.onnx`, b.weights, b.base);
        const top = (p: Float32Array) =>
          topK(p.subarray(0, labels.length), Math.min(5, labels.length)).map((j) => ({
            label: names[j]!,
            index: labels[j]!,
            score: p[j]!,
          }));
        models.clip = report(
          chosen.clip.name,
          { ...a, result: aResult },
          { ...b, result: bResult },
          labels.length,
          top,
        );
      } finally {
        await b.clip.release();
      }
    }
  } finally {
    device.gpu?.destroy();
  }
  return { ...docHeader("fp16"), provenance: { ...runPlace(device), runs, warmup }, models };
}
