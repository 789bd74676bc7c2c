/**
 * Latency and throughput of an image model on the EP in hand: warm-up reported apart (first run includes
 * shader compilation), then timed runs with inputs and outputs kept on the GPU. Wall time per run includes a
 * queue sync; where the adapter has `timestamp-query`, GPU time is measured between two timestamp writes around
 * each run. Throughput comes from back-to-back runs with one sync at the end, so readback is not counted.
 *
 * @module
 */
import type { VisionGraph } from "./models/vision.ts";
import type { GpuContext } from "./gpu/context.ts";
import { readBuffer } from "./gpu/readback.ts";

/** Latency figures in milliseconds. */
export interface LatencyStats {
  /** Timed runs. */
  runs: number;
  /** Mean wall time per run (with a queue sync). */
  mean_ms: number;
  /** Standard deviation. */
  std_ms: number;
  /** Median. */
  p50_ms: number;
  /** 95th percentile, or null with fewer than {@linkcode MIN_RUNS_P95} runs (it would be the maximum). */
  p95_ms: number | null;
  /** Mean GPU time per run from timestamp queries, or null without them. */
  gpu_mean_ms: number | null;
}

/** One batch size. */
export interface BatchResult {
  /** Images per run. */
  batch: number;
  /** The first run (shader compilation included). */
  first_run_ms: number;
  /** Steady-state latency. */
  latency: LatencyStats;
  /** Images per second from back-to-back runs. */
  throughput_img_s: number;
}

/** Fewest timed runs for a median worth printing. */
export const MIN_RUNS = 5;

/** Fewest timed runs for a 95th percentile that is not simply the slowest run. */
export const MIN_RUNS_P95 = 20;

/**
 * Mean, standard deviation and percentiles of run times; p95 only from {@linkcode MIN_RUNS_P95} runs on.
 *
 * @example
 * ```ts
 * import { latencyStats } from "./fp16_bench.ts";
 * const s = latencyStats([10, 12, 11, 13, 14]);
 * if (s.p50_ms !== 12 || s.p95_ms !== null || s.mean_ms !== 12) throw new Error(JSON.stringify(s));
 * ```
 * @param ms Run times.
 * @returns The figures.
 */
export function latencyStats(ms: readonly number[]): Omit<LatencyStats, "gpu_mean_ms" | "runs"> {
  const s = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  const std = Math.sqrt(ms.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, ms.length - 1));
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))]!;
  return { mean_ms: mean, std_ms: std, p50_ms: q(0.5), p95_ms: ms.length >= MIN_RUNS_P95 ? q(0.95) : null };
}

/**
 * What the figures of one batch size say about the machine's noise: a wide spread, a mean far from the median,
 * or latency and throughput disagreeing on which precision is faster. Empty when the figures hang together.
 *
 * @example
 * ```ts
 * import { noiseWarnings } from "./fp16_bench.ts";
 * const lat = (mean: number) => ({ runs: 20, mean_ms: mean, std_ms: 1, p50_ms: mean, p95_ms: mean, gpu_mean_ms: null });
 * const r = (mean: number, tp: number) => ({ batch: 8, first_run_ms: 1, latency: lat(mean), throughput_img_s: tp });
 * if (noiseWarnings(r(10, 800), r(5, 1600)).length !== 0) throw new Error("consistent");
 * if (noiseWarnings(r(10, 800), r(5, 200)).length !== 1) throw new Error("contradiction");
 * ```
 * @param fp32 The fp32 figures.
 * @param fp16 The fp16 figures at the same batch size.
 * @returns One line per problem.
 */
export function noiseWarnings(fp32: BatchResult, fp16: BatchResult): string[] {
  const out: string[] = [];
  for (const [name, r] of [["FP32", fp32], ["FP16", fp16]] as const) {
    const l = r.latency;
    const cv = l.std_ms / l.mean_ms;
    if (cv > 0.25) out.push(`${name} run times spread ±${(100 * cv).toFixed(0)} % of their mean`);
    const skew = Math.abs(l.mean_ms - l.p50_ms) / l.p50_ms;
    if (skew > 0.2) out.push(`${name} mean and median differ by ${(100 * skew).toFixed(0)} % (outlier runs)`);
  }
  const byLatency = fp32.latency.mean_ms / fp16.latency.mean_ms;
  const byThroughput = fp16.throughput_img_s / fp32.throughput_img_s;
  if ((byLatency > 1.1 && byThroughput < 0.9) || (byLatency < 0.9 && byThroughput > 1.1)) {
    out.push(
      `latency says FP16 is ${byLatency.toFixed(2)}x as fast, throughput ${byThroughput.toFixed(2)}x: they disagree`,
    );
  }
  return out;
}

/**
 * Benchmarks `graph` at one batch size.
 *
 * @param graph A validated image graph whose batch axis allows `batch`.
 * @param batch Images per run.
 * @param opts Timed runs and warm-up runs (besides the first).
 * @returns The figures.
 */
export async function benchBatch(
  graph: VisionGraph,
  batch: number,
  opts: { runs: number; warmup: number },
): Promise<BatchResult> {
  const { session, input, output } = graph;
  const dims = [batch, ...input.shape.slice(1).map((d) => (typeof d === "number" && d > 0 ? d : 224))];
  const elems = dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: elems }, (_, i) => ((i * 2654435761) % 1000) / 1000);
  const gpu: GpuContext | null = session.gpuContext;
  let feed: Parameters<typeof session.run>[0];
  let inputBuf: GPUBuffer | null = null;
  if (gpu) {
    inputBuf = gpu.device.createBuffer({
      label: `fp16 bench input ${dims.join("x")}`,
      size: elems * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    });
    gpu.device.queue.writeBuffer(inputBuf, 0, data);
    feed = { [input.name]: { buffer: inputBuf, type: "float32", dims } };
  } else {
    feed = { [input.name]: { type: "float32", data, dims } };
  }
  const once = async () => {
    const out = await session.run(feed);
    if (gpu) await gpu.device.queue.onSubmittedWorkDone();
    else await out[output.name]!.getData();
    for (const t of Object.values(out)) t.dispose();
  };
  try {
    let t = performance.now();
    await once();
    const first = performance.now() - t;
    for (let i = 0; i < opts.warmup; i++) await once();
    const ts = gpu?.summary.timestampQuery ? gpu.device : null;
    const querySet = ts?.createQuerySet({ label: "fp16 bench timestamps", type: "timestamp", count: 2 * opts.runs });
    const mark = (i: number, begin: boolean) => {
      const enc = ts!.createCommandEncoder({ label: "timestamp" });
      const tw: GPUComputePassTimestampWrites = begin
        ? { querySet: querySet!, beginningOfPassWriteIndex: i }
        : { querySet: querySet!, endOfPassWriteIndex: i };
      enc.beginComputePass({ label: "timestamp", timestampWrites: tw }).end();
      ts!.queue.submit([enc.finish()]);
    };
    const wall: number[] = [];
    for (let i = 0; i < opts.runs; i++) {
      t = performance.now();
      if (ts) mark(2 * i, true);
      const out = await session.run(feed);
      if (ts) mark(2 * i + 1, false);
      if (gpu) await gpu.device.queue.onSubmittedWorkDone();
      else await out[output.name]!.getData();
      wall.push(performance.now() - t);
      for (const o of Object.values(out)) o.dispose();
    }
    let gpuMean: number | null = null;
    if (ts && querySet) {
      const resolve = ts.createBuffer({
        label: "timestamps",
        size: 16 * opts.runs,
        usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      });
      const enc = ts.createCommandEncoder({ label: "resolve timestamps" });
      enc.resolveQuerySet(querySet, 0, 2 * opts.runs, resolve, 0);
      ts.queue.submit([enc.finish()]);
      const v = new BigUint64Array(await readBuffer(ts, resolve, 0, 16 * opts.runs));
      let sum = 0;
      for (let i = 0; i < opts.runs; i++) sum += Number(v[2 * i + 1]! - v[2 * i]!) / 1e6;
      gpuMean = sum / opts.runs;
      resolve.destroy();
      querySet.destroy();
    }
    // Throughput: back-to-back runs, one sync at the end.
    const outs: { dispose(): void }[] = [];
    t = performance.now();
    for (let i = 0; i < opts.runs; i++) {
      const out = await session.run(feed);
      if (!gpu) await out[output.name]!.getData();
      outs.push(...Object.values(out));
    }
    if (gpu) await gpu.device.queue.onSubmittedWorkDone();
    const total = performance.now() - t;
    for (const o of outs) o.dispose();
    return {
      batch,
      first_run_ms: first,
      latency: { runs: opts.runs, ...latencyStats(wall), gpu_mean_ms: gpuMean },
      throughput_img_s: (batch * opts.runs) / (total / 1000),
    };
  } finally {
    inputBuf?.destroy();
  }
}
