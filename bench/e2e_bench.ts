/**
 * End to end: JPEG files to written top-5 results, against model-only throughput at the same batch, with each
 * stage measured alone (decode, upload, upload + preprocess, model, top-k) in the same run. Each iteration of every case
 * handles the same images (STEPS batches), so the ratios deno bench prints are throughput ratios.
 *
 * Environment (all optional):
 * - CLIPCMP_BENCH_MODELS: a folder written by `tools/export_fullsize.py` (its `dynamic/` models are used);
 *   default: the tiny fixtures, so the bench runs anywhere.
 * - CLIPCMP_BENCH_BATCHES (default "1,8"), CLIPCMP_BENCH_DTYPES ("fp32,fp16"), CLIPCMP_BENCH_MODELS_RUN
 *   ("resnet,clip"), CLIPCMP_BENCH_STEPS (batches per iteration, default 3), CLIPCMP_BENCH_N (iterations, 5),
 *   CLIPCMP_BENCH_ENGINE ("ort" or "wgsl": which engine runs the models).
 *
 * A summary (images/s, end-to-end / model-only, the pipeline's main-thread breakdown) is printed at the end and
 * written to out/bench/e2e.json.
 */
import { requestGpu } from "../lib/gpu/context.ts";
import { ModelSession } from "../lib/ort/session.ts";
import { type Rows, runVision, validateVisionGraph, type VisionGraph } from "../lib/models/vision.ts";
import { CLIP_RECIPE, type Recipe } from "../lib/preprocess/recipe.ts";
import { resolveResnet } from "../lib/models/resnet.ts";
import { DecodePool } from "../lib/image/pool.ts";
import { listImages } from "../lib/image/list.ts";
import { type Classified, classifyFiles, type PipelineModels, type PipelineTimes } from "../lib/pipeline.ts";
import { classTopK, zeroShotTopK } from "../lib/scoring.ts";
import { CLIP_LOGIT_SCALE } from "../lib/models/clip.ts";
import { GpuPreprocessor } from "../kernels/preprocess.ts";
import { fp16Model } from "../lib/fp16.ts";
import type { RgbaImage } from "../lib/image/decode.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const env = (k: string) => Deno.env.get(k);
const list = (k: string, d: string) => (env(k) ?? d).split(",").map((s) => s.trim()).filter(Boolean);
const BATCHES = list("CLIPCMP_BENCH_BATCHES", "1,8").map(Number);
const DTYPES = list("CLIPCMP_BENCH_DTYPES", "fp32,fp16");
const WHICH = list("CLIPCMP_BENCH_MODELS_RUN", "resnet,clip");
const STEPS = Number(env("CLIPCMP_BENCH_STEPS") ?? 3);
const N = Number(env("CLIPCMP_BENCH_N") ?? 5);
const FULL = env("CLIPCMP_BENCH_MODELS");
const ENGINE = env("CLIPCMP_BENCH_ENGINE") === "wgsl" ? "wgsl" : "ort";
const OUT = `${ROOT}/out/bench`;

const gpu = await requestGpu();
if (!gpu) console.warn("SKIP end-to-end bench: no WebGPU adapter");

interface Spec {
  name: string;
  file: string;
  recipe: Recipe;
  kind: "resnet" | "clip";
}
const specs: Spec[] = [];
if (WHICH.includes("resnet")) {
  const src = FULL
    ? await resolveResnet(`${FULL}/dynamic/resnet50.onnx`, "unit")
    : await resolveResnet(`${ROOT}/models/fixtures/resnet-tiny-dyn`);
  specs.push({ name: FULL ? "resnet50" : "resnet-tiny", file: src.model, recipe: src.recipe, kind: "resnet" });
}
if (WHICH.includes("clip")) {
  specs.push({
    name: FULL ? "clip-rn50-visual" : "clip-tiny-visual",
    file: FULL ? `${FULL}/dynamic/clip-rn50-visual.onnx` : `${ROOT}/models/fixtures/clip-tiny-dyn/visual/model.onnx`,
    recipe: CLIP_RECIPE,
    kind: "clip",
  });
}

const photos = await listImages([`${ROOT}/data/samples/photo`]);
const pool = new DecodePool();
const decoded = await Promise.all(photos.map((p) => pool.decode(p)));
console.log(`decode pool: ${pool.size} workers; ${photos.length} photos cycled`);
if (gpu) console.log(`adapter: ${gpu.summary.name}${gpu.summary.fallback ? " (fallback)" : ""}`);

/** Median-of-iterations per case, for the summary. */
const samples = new Map<string, { group: string; images: number; ms: number[] }>();
const breakdown = new Map<string, PipelineTimes>();
function timed(group: string, name: string, images: number, fn: () => Promise<void>): () => Promise<void> {
  const key = `${group}\u0000${name}`;
  samples.set(key, { group, images, ms: [] });
  return async () => {
    const t = performance.now();
    await fn();
    samples.get(key)!.ms.push(performance.now() - t);
  };
}

const cycle = <T>(xs: readonly T[], n: number) => Array.from({ length: n }, (_, i) => xs[i % xs.length]!);

if (gpu) {
  Deno.mkdirSync(OUT, { recursive: true });
  const device = gpu.device;
  const sync = () => device.queue.onSubmittedWorkDone();
  for (const spec of specs) {
    for (const dtype of DTYPES) {
      if (dtype === "fp16" && !gpu.summary.f16) {
        console.warn(`SKIP ${spec.name} fp16: ${gpu.summary.f16Reason}`);
        continue;
      }
      const file = dtype === "fp16" ? await fp16Model(spec.file, `${OUT}/cache`) : spec.file;
      const session = await ModelSession.load(file, { ep: "webgpu", gpu, engine: ENGINE });
      const graph: VisionGraph = validateVisionGraph(session, spec.recipe.crop);
      if (graph.batch !== null) throw new Error(`${file} has a fixed batch ${graph.batch}; the bench needs dynamic`);
      // A random unit-length zero-shot head of 1000 classes stands in for the text tower's output.
      const head: Rows | undefined = spec.kind === "clip"
        ? (() => {
          const h = Float32Array.from({ length: 1000 * graph.width }, (_, i) => Math.sin(i * 12.9898) * 43758.5453 % 1);
          for (let r = 0; r < 1000; r++) {
            const row = h.subarray(r * graph.width, (r + 1) * graph.width);
            const norm = Math.hypot(...row);
            row.forEach((v, j) => (row[j] = v / norm));
          }
          const buffer = device.createBuffer({
            label: "bench zero-shot head",
            size: h.byteLength,
            usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
          });
          device.queue.writeBuffer(buffer, 0, h);
          return { where: "gpu", buffer, rows: 1000, width: graph.width, device } as Rows;
        })()
        : undefined;
      const encoder = {
        encodeImages: (images: readonly RgbaImage[], o?: Parameters<typeof runVision>[3]) =>
          runVision(graph, images, spec.recipe, o),
        logits: (images: readonly RgbaImage[], o?: Parameters<typeof runVision>[3]) =>
          runVision(graph, images, spec.recipe, o),
      };
      const models: PipelineModels = spec.kind === "clip"
        ? { clip: { model: encoder, head: head! }, columns: null }
        : { resnet: encoder, columns: null };
      for (const b of BATCHES) {
        const group = `${spec.name} ${dtype} batch ${b}`;
        const images = STEPS * b;
        const files = cycle(photos, images);
        const batchImages = cycle(decoded, b);
        const pre = new GpuPreprocessor(device, "f32");
        const input = pre.createBatchBuffer(b, spec.recipe.crop, `${group} input`);
        pre.run(batchImages, spec.recipe, input);
        const dims = [b, 3, spec.recipe.crop, spec.recipe.crop];
        const rows = await runVision(graph, batchImages, spec.recipe, { maxBatch: b });
        const opts = { n: N, warmup: 1, group };
        Deno.bench({
          name: `model only`,
          baseline: true,
          ...opts,
          fn: timed(group, "model only", images, async () => {
            for (let s = 0; s < STEPS; s++) {
              const out = await session.run({ [graph.input.name]: { buffer: input, type: "float32", dims } });
              for (const t of Object.values(out)) t.dispose();
            }
            await sync();
          }),
        });
        Deno.bench({
          name: `decode (${pool.size} workers)`,
          ...opts,
          fn: timed(group, "decode", images, async () => {
            await Promise.all(files.map((f) => pool.decode(f)));
          }),
        });
        Deno.bench({
          name: "upload (cut windows, writeBuffer)",
          ...opts,
          fn: timed(group, "upload", images, async () => {
            for (let s = 0; s < STEPS; s++) pre.run(batchImages, spec.recipe, input, 0, { uploadOnly: true });
            await sync();
          }),
        });
        Deno.bench({
          name: "upload + preprocess",
          ...opts,
          fn: timed(group, "upload + preprocess", images, async () => {
            for (let s = 0; s < STEPS; s++) pre.run(batchImages, spec.recipe, input);
            await sync();
          }),
        });
        Deno.bench({
          name: "top-k + readback",
          ...opts,
          fn: timed(group, "top-k + readback", images, async () => {
            for (let s = 0; s < STEPS; s++) {
              if (head) await zeroShotTopK(rows, head, CLIP_LOGIT_SCALE, 5);
              else await classTopK(rows, undefined, 5);
            }
          }),
        });
        for (const sequential of [false, true]) {
          const name = sequential ? "end to end, stages in sequence" : "end to end, pipelined";
          const jsonl = `${OUT}/e2e-${spec.name}-${dtype}-b${b}${sequential ? "-seq" : ""}.jsonl`;
          Deno.bench({
            name,
            ...opts,
            fn: timed(group, name, images, async () => {
              using file = await Deno.open(jsonl, { write: true, create: true, truncate: true });
              const enc = new TextEncoder();
              const times = await classifyFiles(files.map((path) => ({ path, index: -1 })), models, {
                batch: b,
                k: 5,
                pool,
                sequential,
                onBatch: async (rs: Classified[]) => {
                  await file.write(enc.encode(rs.map((r) => JSON.stringify(r)).join("\n") + "\n"));
                },
              });
              if (times.images !== images) throw new Error(`classified ${times.images} of ${images}`);
              breakdown.set(`${group}\u0000${name}`, times);
            }),
          });
        }
      }
    }
  }
}

globalThis.addEventListener("unload", () => {
  pool.close();
  if (!gpu) return;
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)]! : NaN;
  };
  const rows: Record<string, unknown>[] = [];
  const groups = [...new Set([...samples.values()].map((s) => s.group))];
  const lines = [
    `adapter: ${gpu.summary.name}; engine: ${ENGINE}; decode workers: ${pool.size}; ${STEPS} batches per iteration, median of ${N}`,
    "| group | case | images/s | vs model only | main thread: decode / upload / model / top-k / write (ms) |",
    "|---|---|---|---|---|",
  ];
  for (const g of groups) {
    const base = samples.get(`${g}\u0000model only`)!;
    const baseRate = base.images / (median(base.ms) / 1000);
    for (const [key, s] of samples) {
      if (s.group !== g) continue;
      const name = key.split("\u0000")[1]!;
      const rate = s.images / (median(s.ms) / 1000);
      const t = breakdown.get(key);
      const split = t ? [t.decode, t.upload, t.model, t.topk, t.write].map((x) => x.toFixed(1)).join(" / ") : "";
      rows.push({ group: g, case: name, images_per_s: rate, vs_model_only: rate / baseRate, breakdown: t });
      lines.push(`| ${g} | ${name} | ${rate.toFixed(1)} | ${(rate / baseRate).toFixed(2)} | ${split} |`);
    }
  }
  console.log(lines.join("\n"));
  Deno.writeTextFileSync(`${OUT}/e2e.json`, JSON.stringify({ adapter: gpu.summary, rows }, null, 2) + "\n");
  Deno.writeTextFileSync(`${OUT}/e2e.md`, lines.join("\n") + "\n");
});
