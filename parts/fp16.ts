/**
 * `deno task fp16` (part 5): FP16 vs FP32, measured honestly: latency percentiles with warm-up apart and GPU
 * timestamps where the adapter has them, throughput with data kept on the GPU, peak GPU memory from buffer
 * accounting, and agreement on the sample images. fp16 runs only after a self-test passes.
 *
 * @module
 */
import { docHeader, runPlace } from "../lib/envelope.ts";
import { DEVICE_FLAG, deviceFlags } from "../lib/cli/device_flags.ts";
import { info, oneOf, parseFlags, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { repoPath } from "../lib/data/paths.ts";
import { resolveDevice } from "../lib/device.ts";
import { cacheDirFlag, checkAgainstManifest, chooseModels, MODEL_FLAGS, MODEL_HELP } from "../lib/cli/models.ts";
import { CLIP_LOGIT_SCALE, ClipModel } from "../lib/models/clip.ts";
import { ResnetModel } from "../lib/models/resnet.ts";
import type { VisionGraph } from "../lib/models/vision.ts";
import { decodeImageFile } from "../lib/image/decode.ts";
import { listImages } from "../lib/image/list.ts";
import { releaseRows, rowsToHost, zeroShotDetail } from "../lib/scoring.ts";
import { buildHead } from "../lib/zeroshot.ts";
import { softmaxCpu, topK } from "../lib/math/cpu.ts";
import { type Agreement, agreement, fp16ClipDir, fp16Model, fp16SelfCheck } from "../lib/fp16.ts";
import { type BatchResult, benchBatch, MIN_RUNS, MIN_RUNS_P95, noiseWarnings } from "../lib/fp16_bench.ts";
import { type MemoryTracker, trackMemory } from "../lib/gpu/memory.ts";
import { classFromFileName, imagenetClasses } from "../lib/data/imagenet.ts";
import { formatBytes } from "../lib/hub/progress.ts";
import type { GpuContext } from "../lib/gpu/context.ts";
import type { ResolvedDevice } from "../lib/device.ts";

const HELP = `clipcmp fp16: FP16 vs FP32 latency, throughput, memory and agreement

Usage: deno task fp16 [options]

Options:
  --model clip|resnet|both    which models (default both; CLIP is timed on its image tower)
  --batch 1,8,32,128          batch sizes (a graph with a fixed batch runs only that one)
  --runs N                    timed runs per batch size (default 20)
  --warmup N                  warm-up runs after the first (default 3)
  --device auto|webgpu|wasm   (default auto)
  --images DIR                sample images for agreement and the self-test (default data/samples/photo)
${MODEL_HELP}
  --json                      one JSON document on stdout (schema: docs/schemas/fp16.schema.json)
  -h, --help                  this help

fp16 models are converted from the fp32 ones in TypeScript (Casts keep fp32 inputs and outputs; reductions,
softmax and normalisation stay fp32) and cached by source hash. Before any fp16 figure is shown, a few samples
run in both precisions: NaN/Inf, or top-1 disagreement on more than a quarter of the clear-margin samples,
stops the run.`;

interface PrecisionResult {
  dtype: "fp32" | "fp16";
  model: string;
  weight_bytes: number;
  peak_gpu_bytes: number | null;
  batches: BatchResult[];
}

interface ModelReport {
  fp32: PrecisionResult;
  fp16: PrecisionResult;
  skipped_batches: { batch: number; reason: string }[];
  /** What the figures say about the machine's noise, per batch size (empty when they hang together). */
  noise_warnings?: string[];
  agreement: Agreement;
  self_test: string;
  sample: {
    path: string;
    fp32: { label: string; index: number; score: number }[];
    fp16: { label: string; index: number; score: number }[];
  };
}

const fmt = (x: number) => x.toFixed(2);

async function weightBytes(paths: string[]): Promise<number> {
  let n = 0;
  for (const p of paths) n += (await Deno.stat(p)).size;
  return n;
}

function withDevice(d: ResolvedDevice, mem: MemoryTracker | null): ResolvedDevice {
  if (!d.gpu || !mem) return d;
  const gpu: GpuContext = { ...d.gpu, device: mem.device };
  return { ...d, gpu };
}

runTask("fp16", async (args) => {
  const { values: v } = parseFlags(
    args,
    {
      model: { type: "string", default: "both" },
      batch: { type: "string", default: "1,8,32,128" },
      runs: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      ...DEVICE_FLAG,
      images: { type: "string" },
      ...MODEL_FLAGS,
      json: { type: "boolean", default: false },
    },
    false,
    HELP,
  );
  const which = oneOf("--model", v.model as string, ["clip", "resnet", "both"] as const);
  const batches = (v.batch as string).split(",").map((s) => Number(s.trim()));
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 1024)) {
    throw new UsageError(`--batch must list integers from 1 to 1024, got "${v.batch}"`);
  }
  const runs = Number(v.runs), warmup = Number(v.warmup);
  if (!Number.isInteger(runs) || runs < MIN_RUNS) {
    throw new UsageError(
      `--runs must be an integer of at least ${MIN_RUNS} (${MIN_RUNS_P95} for a p95), got "${v.runs}"`,
    );
  }
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new UsageError(`--warmup must be a non-negative integer, got "${v.warmup}"`);
  }
  const deviceChoice = deviceFlags(v).device;
  const chosen = await chooseModels(v, { clip: which !== "resnet", resnet: which !== "clip" });
  const imageDir = (v.images as string | undefined) ?? repoPath("data/samples/photo");
  const files = (await listImages([imageDir])).filter((f) => classFromFileName(f.split("/").pop()!));
  if (files.length < 2) throw new ClipcmpError(`--images "${imageDir}" needs at least 2 images named by WordNet id`);
  const images = await Promise.all(files.map((f) => decodeImageFile(f)));
  const cache = cacheDirFlag(v);

  const device = await resolveDevice(deviceChoice);
  info(device.reason);
  if (device.gpu && !device.gpu.summary.f16) {
    throw new ClipcmpError(
      `fp16 on webgpu needs working shader-f16: ${device.gpu.summary.f16Reason}; use --device wasm`,
    );
  }
  const mem = device.gpu ? trackMemory(device.gpu.device) : null;
  const dev = withDevice(device, mem);
  const report: Record<string, ModelReport> = {};
  const classes = imagenetClasses();
  const labels = [...new Set(files.map((f) => classFromFileName(f.split("/").pop()!)!.index))].sort((a, b) => a - b);

  const measure = async (
    graph: VisionGraph,
    dtype: "fp32" | "fp16",
    path: string,
    weights: number,
    baseline: number,
  ) => {
    const out: BatchResult[] = [];
    for (const b of batches) {
      if (graph.batch !== null && graph.batch !== b) continue;
      info(`${dtype}: batch ${b}, ${runs} runs`);
      out.push(await benchBatch(graph, b, { runs, warmup }));
    }
    return {
      dtype,
      model: path,
      weight_bytes: weights,
      peak_gpu_bytes: mem ? mem.peak - baseline : null,
      batches: out,
    } as PrecisionResult;
  };

  try {
    if (chosen.resnet) {
      const src = chosen.resnet.source;
      const half = await fp16Model(src.model, cache, info);
      const runOne = async (path: string, dtype: "fp32" | "fp16", reference?: Float32Array) => {
        const base = mem?.live ?? 0;
        mem?.resetPeak();
        const model = await ResnetModel.load({ ...src, model: path }, dev);
        if (dtype === "fp32") checkAgainstManifest(chosen, undefined, model);
        try {
          const rows = await model.logits(images);
          const logits = await rowsToHost(rows, dev.gpu ?? undefined);
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
      report.resnet = {
        fp32: a.result,
        fp16: b.result,
        skipped_batches: batches.filter((x) => a.result.batches.every((r) => r.batch !== x)).map((x) => ({
          batch: x,
          reason: "the graph's batch is fixed",
        })),
        agreement: agreement(a.logits, b.logits, a.probs, b.probs, images.length, 1000),
        self_test: "passed",
        sample: { path: files[0]!, fp32: top(a.probs), fp16: top(b.probs) },
      };
    }
    if (chosen.clip) {
      const halfDir = await fp16ClipDir(chosen.clip.dir, cache, info);
      const names = labels.map((i) => classes[i]!.clip);
      const runOne = async (dir: string, dtype: "fp32" | "fp16") => {
        const base = mem?.live ?? 0;
        mem?.resetPeak();
        const clip = await ClipModel.load(dir, { ...dev, log: info });
        if (dtype === "fp32") checkAgainstManifest(chosen, clip);
        try {
          const head = await buildHead(clip, names, ["a photo of a {}."]);
          const img = await clip.encodeImages(images);
          const { probs, cosines } = await zeroShotDetail(img, head.rows, CLIP_LOGIT_SCALE, dev.gpu ?? undefined);
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
      const aResult = await measure(a.clip.visual, "fp32", `${chosen.clip.dir}/visual/model.onnx`, a.weights, a.base);
      await a.clip.release();
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
        report.clip = {
          fp32: aResult,
          fp16: bResult,
          skipped_batches: batches.filter((x) => aResult.batches.every((r) => r.batch !== x)).map((x) => ({
            batch: x,
            reason: "the graph's batch is fixed",
          })),
          agreement: agreement(a.logits, b.logits, a.probs, b.probs, images.length, labels.length),
          self_test: "passed",
          sample: { path: files[0]!, fp32: top(a.probs), fp16: top(b.probs) },
        };
      } finally {
        await b.clip.release();
      }
    }
  } finally {
    device.gpu?.destroy();
  }

  for (const r of Object.values(report)) {
    r.noise_warnings = r.fp32.batches.flatMap((b32) => {
      const b16 = r.fp16.batches.find((x) => x.batch === b32.batch);
      return b16 ? noiseWarnings(b32, b16).map((w) => `batch ${b32.batch}: ${w}`) : [];
    });
  }
  if (v.json) {
    console.log(JSON.stringify(
      {
        ...docHeader("fp16"),
        provenance: {
          ...runPlace(device),
          runs,
          warmup,
        },
        models: report,
      },
      null,
      2,
    ));
    return 0;
  }
  const pcts = (l: { p50_ms: number; p95_ms: number | null }) =>
    `p50 ${fmt(l.p50_ms)}${l.p95_ms === null ? `; p95 needs ${MIN_RUNS_P95} runs` : `, p95 ${fmt(l.p95_ms)}`}`;
  for (const [name, r] of Object.entries(report)) {
    const bar = "═".repeat(72);
    console.log(
      `\n╔${bar}╗\n║ ${
        `${name === "clip" ? `${chosen.clip?.name} image tower` : chosen.resnet?.name}: inference time (${device.ep})`
          .padEnd(71)
      }║\n╚${bar}╝`,
    );
    for (const b32 of r.fp32.batches) {
      const b16 = r.fp16.batches.find((x) => x.batch === b32.batch);
      if (!b16) continue;
      const l32 = b32.latency, l16 = b16.latency;
      console.log(
        `  batch ${b32.batch}: FP32 ${fmt(l32.mean_ms)} ms ± ${fmt(l32.std_ms)} (${pcts(l32)})  FP16 ${
          fmt(l16.mean_ms)
        } ms ± ${fmt(l16.std_ms)} (${pcts(l16)})`,
      );
      if (l32.gpu_mean_ms !== null && l16.gpu_mean_ms !== null) {
        console.log(`    GPU time (timestamps): FP32 ${fmt(l32.gpu_mean_ms)} ms, FP16 ${fmt(l16.gpu_mean_ms)} ms`);
      }
      console.log(
        `    throughput: FP32 ${fmt(b32.throughput_img_s)} img/s, FP16 ${fmt(b16.throughput_img_s)} img/s, speed-up ${
          fmt(b16.throughput_img_s / b32.throughput_img_s)
        }x; first run ${fmt(b32.first_run_ms)} / ${fmt(b16.first_run_ms)} ms`,
      );
      for (const w of noiseWarnings(b32, b16)) {
        console.log(`    warning: ${w}; the machine was noisy: rerun with more --runs, nothing else running`);
      }
    }
    for (const s of r.skipped_batches) console.log(`  batch ${s.batch}: skipped (${s.reason})`);
    console.log(`\n╔${bar}╗\n║ ${"Prediction comparison".padEnd(71)}║\n╚${bar}╝`);
    console.log(`  ${r.sample.path}`);
    r.sample.fp32.forEach((s, i) => {
      const h = r.sample.fp16[i]!;
      console.log(
        `  ${i + 1}. FP32 ${s.label.padEnd(24)} ${(100 * s.score).toFixed(2).padStart(6)}%   FP16 ${
          h.label.padEnd(24)
        } ${(100 * h.score).toFixed(2).padStart(6)}%`,
      );
    });
    const ag = r.agreement;
    console.log(
      `  Top-5 rankings match: ${
        r.sample.fp32.map((s) => s.index).join() === r.sample.fp16.map((s) => s.index).join()
      }`,
    );
    console.log(
      `  Over ${ag.n} images: top-1 match ${(100 * ag.top1_match).toFixed(1)}%, top-5 match ${
        (100 * ag.top5_match).toFixed(1)
      }%, Spearman ${ag.spearman.toFixed(4)}, max |Δlogit| ${ag.max_abs_logit_diff.toExponential(2)}, max |Δprob| ${
        ag.max_abs_prob_diff.toExponential(2)
      }; self-test ${r.self_test}`,
    );
    console.log(`\n╔${bar}╗\n║ ${"Memory".padEnd(71)}║\n╚${bar}╝`);
    console.log(
      `  weights: FP32 ${formatBytes(r.fp32.weight_bytes)}, FP16 ${formatBytes(r.fp16.weight_bytes)} (${
        (100 * (1 - r.fp16.weight_bytes / r.fp32.weight_bytes)).toFixed(1)
      }% less)`,
    );
    if (r.fp32.peak_gpu_bytes !== null && r.fp16.peak_gpu_bytes !== null) {
      console.log(
        `  peak GPU buffers: FP32 ${formatBytes(r.fp32.peak_gpu_bytes)}, FP16 ${
          formatBytes(r.fp16.peak_gpu_bytes)
        } (ratio ${(r.fp16.peak_gpu_bytes / r.fp32.peak_gpu_bytes).toFixed(2)})`,
      );
    } else console.log("  peak GPU buffers: n/a on the wasm EP");
  }
  return 0;
});
