/**
 * The WGSL engine against onnxruntime-web's WebGPU EP, model only, on the same device in one run: the ResNet,
 * the CLIP image tower and the CLIP text tower, per batch and dtype. Before timing, each pair of sessions is
 * run on the same input and must agree (fp32 within 1e-3 of the output's scale, fp16 within 2e-2); a pair that
 * does not is reported and not timed. Each iteration runs STEPS batches, so deno bench's ratios are throughput
 * ratios.
 *
 * Environment (all optional):
 * - CLIPCMP_BENCH_MODELS: a folder written by `tools/export_fullsize.py` (its `dynamic/` image models and
 *   `clip-rn50/textual`); default: the tiny fixtures, so the bench runs anywhere. CLIPCMP_BENCH_TEXT: another
 *   text tower (a canonical build has a dynamic batch; the exports' is fixed at 1).
 * - CLIPCMP_BENCH_BATCHES (default "1,2"), CLIPCMP_BENCH_DTYPES ("fp32,fp16"), CLIPCMP_BENCH_MODELS_RUN
 *   ("resnet,clip,text"), CLIPCMP_BENCH_STEPS (batches per iteration, default 2), CLIPCMP_BENCH_N (iterations, 3).
 *
 * The summary (images or prompts per second, GFLOP/s, the fraction of the adapter's vector peak where known,
 * engine / ORT) is printed at the end and written to out/bench/engine.{json,md}.
 */
import { requestGpu } from "../lib/gpu/context.ts";
import { ModelSession } from "../lib/ort/session.ts";
import { WgslSession } from "../lib/engine/session.ts";
import { readOnnx } from "../lib/onnx/external.ts";
import { convertToFp16 } from "../lib/onnx/fp16.ts";
import { createBufferWith } from "../lib/gpu/readback.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const env = (k: string) => Deno.env.get(k);
const list = (k: string, d: string) => (env(k) ?? d).split(",").map((s) => s.trim()).filter(Boolean);
const BATCHES = list("CLIPCMP_BENCH_BATCHES", "1,2").map(Number);
const DTYPES = list("CLIPCMP_BENCH_DTYPES", "fp32,fp16");
const WHICH = list("CLIPCMP_BENCH_MODELS_RUN", "resnet,clip,text");
const STEPS = Number(env("CLIPCMP_BENCH_STEPS") ?? 2);
const N = Number(env("CLIPCMP_BENCH_N") ?? 3);
const FULL = env("CLIPCMP_BENCH_MODELS");
const OUT = `${ROOT}/out/bench`;

/** Published vector (non-tensor-core) peaks, FLOP/s, by adapter name. */
const PEAKS: [RegExp, { fp32: number; fp16: number }][] = [
  [/H200|H100.*(SXM|HBM3)/i, { fp32: 67e12, fp16: 134e12 }],
  [/H100/i, { fp32: 51e12, fp16: 102e12 }],
];

interface Spec {
  name: string;
  file: string;
  kind: "image" | "text";
}
const specs: Spec[] = [];
if (WHICH.includes("resnet")) {
  specs.push({
    name: FULL ? "resnet50" : "resnet-tiny",
    file: FULL ? `${FULL}/dynamic/resnet50.onnx` : `${ROOT}/models/fixtures/resnet-tiny-dyn/model.onnx`,
    kind: "image",
  });
}
if (WHICH.includes("clip")) {
  specs.push({
    name: FULL ? "clip-rn50-visual" : "clip-tiny-visual",
    file: FULL ? `${FULL}/dynamic/clip-rn50-visual.onnx` : `${ROOT}/models/fixtures/clip-tiny-dyn/visual/model.onnx`,
    kind: "image",
  });
}
if (WHICH.includes("text")) {
  specs.push({
    name: FULL ? "clip-rn50-text" : "clip-tiny-text",
    file: env("CLIPCMP_BENCH_TEXT") ??
      (FULL ? `${FULL}/clip-rn50/textual/model.onnx` : `${ROOT}/models/fixtures/clip-tiny-dyn/textual/model.onnx`),
    kind: "text",
  });
}

const gpu = await requestGpu();
if (!gpu) console.warn("SKIP engine bench: no WebGPU adapter");
const peak = gpu ? PEAKS.find(([re]) => re.test(gpu.summary.name))?.[1] : undefined;

interface Row {
  group: string;
  engine: string;
  items: number;
  flops: number;
  ms: number[];
  agreement?: string;
}
const rows = new Map<string, Row>();

if (gpu) {
  Deno.mkdirSync(OUT, { recursive: true });
  const device = gpu.device;
  const sync = () => device.queue.onSubmittedWorkDone();
  for (const spec of specs) {
    const fp32 = await readOnnx(spec.file);
    for (const dtype of DTYPES) {
      if (dtype === "fp16" && !gpu.summary.f16) {
        console.warn(`SKIP ${spec.name} fp16: ${gpu.summary.f16Reason}`);
        continue;
      }
      const bytes = dtype === "fp16" ? convertToFp16(fp32).model : fp32;
      const ort = await ModelSession.fromBytes(spec.file, "", bytes, { ep: "webgpu", gpu });
      const eng = await ModelSession.fromBytes(spec.file, "", bytes, { ep: "webgpu", gpu, engine: "wgsl" });
      const engine = new WgslSession(device, bytes, spec.file);
      const input = ort.inputs[0]!;
      for (const b of BATCHES) {
        const fixed = input.shape[0];
        if (typeof fixed === "number" && fixed > 0 && fixed !== b) {
          console.warn(`SKIP ${spec.name} batch ${b}: the graph's batch is fixed at ${fixed}`);
          continue;
        }
        const group = `${spec.name} ${dtype} batch ${b}`;
        const dims = input.shape.map((d, i) => (i === 0 ? b : Number(d)));
        const count = dims.reduce((x, y) => x * y, 1);
        let feed: Parameters<ModelSession["run"]>[0][string];
        if (spec.kind === "text") {
          const ids = new Int32Array(count);
          for (let r = 0; r < b; r++) {
            ids[r * dims[1]!] = 49406;
            for (let j = 1; j < 8 + (r % 9); j++) ids[r * dims[1]! + j] = (r * 7919 + j * 104729) % 49405;
            ids[r * dims[1]! + 8 + (r % 9)] = 49407;
          }
          feed = { type: input.type, data: input.type === "int64" ? BigInt64Array.from(ids, BigInt) : ids, dims };
        } else {
          const x = Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.001));
          feed = {
            buffer: createBufferWith(device, `${group} input`, x, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC),
            type: "float32",
            dims,
          };
        }
        const feeds = { [input.name]: feed };
        // Agreement first.
        const [a, c] = [await ort.run(feeds), await eng.run(feeds)];
        const out = ort.outputs[0]!.name;
        const x = Float32Array.from(await a[out]!.getData() as ArrayLike<number>);
        const y = Float32Array.from(await c[out]!.getData() as ArrayLike<number>);
        for (const t of [...Object.values(a), ...Object.values(c)]) t.dispose();
        let scale = 1e-6, err = 0;
        for (let i = 0; i < x.length; i++) {
          scale = Math.max(scale, Math.abs(x[i]!));
          err = Math.max(err, Math.abs(x[i]! - y[i]!));
        }
        const rel = err / scale, tol = dtype === "fp16" ? 2e-2 : 1e-3;
        const agreement = `max |engine - ORT| = ${rel.toExponential(2)} of scale`;
        console.log(`${group}: ${agreement}${rel > tol ? " — OVER TOLERANCE, not timed" : ""}`);
        if (!(rel <= tol)) continue;
        const flops = engine.flops({ batch: b, [String(input.shape[0])]: b });
        for (const [name, s] of [["ort", ort], ["wgsl", eng]] as const) {
          const key = `${group}\u0000${name}`;
          rows.set(key, { group, engine: name, items: STEPS * b, flops: STEPS * flops, ms: [], agreement });
          Deno.bench({
            name: `${name === "ort" ? "onnxruntime-web webgpu" : "WGSL engine"}`,
            group,
            baseline: name === "ort",
            n: N,
            warmup: 1,
            async fn() {
              const t = performance.now();
              for (let i = 0; i < STEPS; i++) {
                const o = await s.run(feeds);
                for (const v of Object.values(o)) v.dispose();
              }
              await sync();
              rows.get(key)!.ms.push(performance.now() - t);
            },
          });
        }
      }
      await engine.release();
    }
  }
}

globalThis.addEventListener("unload", () => {
  if (!gpu) return;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const lines = [
    `adapter: ${gpu.summary.name}${
      gpu.summary.fallback ? " (fallback adapter: a correctness-speed check only)" : ""
    }; ${STEPS} batches per iteration, median of ${N}`,
    "| model, dtype, batch | engine | items/s | GFLOP/s | of vector peak | engine / ORT |",
    "|---|---|---|---|---|---|",
  ];
  const out: Record<string, unknown>[] = [];
  for (const r of rows.values()) {
    const s = median(r.ms) / 1000;
    const ort = rows.get(`${r.group}\u0000ort`)!;
    const speedup = (median(ort.ms) / 1000) / s;
    const gflops = r.flops / s / 1e9;
    const dtype = r.group.includes("fp16") ? "fp16" : "fp32";
    const ofPeak = peak ? `${((gflops * 1e9 / peak[dtype]) * 100).toFixed(1)} %` : "n/a";
    out.push({ ...r, items_per_s: r.items / s, gflops, of_peak: ofPeak, vs_ort: speedup });
    lines.push(
      `| ${r.group} | ${r.engine} | ${(r.items / s).toFixed(2)} | ${gflops.toFixed(1)} | ${ofPeak} | ${
        speedup.toFixed(2)
      } |`,
    );
  }
  console.log(lines.join("\n"));
  Deno.writeTextFileSync(`${OUT}/engine.json`, JSON.stringify({ adapter: gpu.summary, rows: out }, null, 2) + "\n");
  Deno.writeTextFileSync(`${OUT}/engine.md`, lines.join("\n") + "\n");
});
