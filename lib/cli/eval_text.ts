/**
 * What `deno task eval` prints.
 *
 * @module
 */
import type { EvalOutcome } from "../tasks/eval.ts";

/** The metrics table, one line per dataset and model. */
export function printMetrics(out: string, r: EvalOutcome, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r.doc, null, 2));
    return;
  }
  for (const m of r.metrics) {
    console.log(
      `${m.dataset.padEnd(12)} ${m.model.padEnd(6)} n=${String(m.n).padEnd(6)} top-1 ${
        (100 * m.acc1).toFixed(2).padStart(6)
      }%  top-5 ${(100 * m.acc5).toFixed(2).padStart(6)}%  mean per-class recall ${
        (100 * m.mean_per_class_recall).toFixed(2)
      }%`,
    );
  }
  console.log(`metrics: ${out}/metrics.json, ${out}/metrics.csv; report: ${out}/report.html (also report.md)`);
}
