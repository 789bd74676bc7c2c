/**
 * What `deno task fp16` prints without `--json`.
 *
 * @module
 */
import { MIN_RUNS_P95 } from "../fp16_bench.ts";
import { formatBytes } from "../hub/progress.ts";
import type { Fp16Document } from "../tasks/fp16.ts";

const fmt = (x: number) => x.toFixed(2);

/**
 * Prints each model's latency, throughput, sample predictions, agreement and memory.
 *
 * @param doc The fp16 document.
 */
export function printFp16(doc: Fp16Document): void {
  const pcts = (l: { p50_ms: number; p95_ms: number | null }) =>
    `p50 ${fmt(l.p50_ms)}${l.p95_ms === null ? `; p95 needs ${MIN_RUNS_P95} runs` : `, p95 ${fmt(l.p95_ms)}`}`;
  for (const [kind, r] of Object.entries(doc.models)) {
    const bar = "═".repeat(72);
    console.log(
      `\n╔${bar}╗\n║ ${
        `${kind === "clip" ? `${r.name} image tower` : r.name}: inference time (${doc.provenance.ep})`
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
    }
    for (const w of r.noise_warnings) {
      console.log(`  warning: ${w}; the machine was noisy: rerun with more --runs, nothing else running`);
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
}
