/**
 * What `deno task compare` prints, and how it ends.
 *
 * @module
 */
import type { CompareDocument, Score } from "../documents.ts";
import { ClipcmpError } from "../errors.ts";
import { INTERRUPTED } from "../compare.ts";
import { EXIT_INTERRUPTED, info } from "./run.ts";
import { modelLabels } from "../report/write.ts";

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function cell(s: Score | undefined, trueIndex: number, width: number): string {
  if (!s) return "".padEnd(width);
  const mark = s.index === trueIndex ? "*" : " ";
  const label = s.label.length > width - 9 ? `${s.label.slice(0, width - 10)}…` : s.label;
  return `${mark}${label.padEnd(width - 8)}${pct(s.score).padStart(6)} `;
}

/** Prints every image's top-5 tables (`--per-image`). */
export function printPerImage(doc: CompareDocument): void {
  const w = 30;
  const m = doc.label_set.length;
  const heads = [
    doc.results[0]?.clip ? `CLIP (${m} labels)` : null,
    doc.results[0]?.resnet ? `ResNet (same ${m} labels)` : null,
    doc.results[0]?.resnet ? "ResNet (all 1000 classes)" : null,
  ].filter((h): h is string => h !== null);
  doc.results.forEach((r, i) => {
    console.log(
      `\n[${i + 1}/${doc.results.length}] ${r.path}  (${r.domain})  true: ${r.true.label} (#${r.true.index})`,
    );
    console.log(`  ${heads.map((h) => h.padEnd(w)).join(" ")}`);
    for (let k = 0; k < 5; k++) {
      const cols = [
        r.clip ? cell(r.clip.top5[k], r.true.index, w) : null,
        r.resnet ? cell(r.resnet.top5[k], r.true.index, w) : null,
        r.resnet ? cell(r.resnet.top5_1000[k], r.true.index, w) : null,
      ].filter((c): c is string => c !== null);
      console.log(`  ${cols.join(" ")}`);
    }
  });
  console.log();
}

/** Prints the per-domain summary and where the report went. */
export function printSummary(doc: CompareDocument, reportDir: string | null): void {
  console.log(
    `Label set: ${doc.label_set.length} classes. Top-1 / top-5 with the 95 % interval of top-1, and the mean WordNet severity of top-1 mistakes:`,
  );
  for (const d of doc.domains) {
    for (const [k, a] of Object.entries(d.models)) {
      console.log(
        `  ${d.domain.padEnd(8)} ${(modelLabels(doc)[k] ?? k).padEnd(28)} n=${String(a.n).padEnd(4)} top-1 ${
          pct(a.top1).padStart(6)
        } [${pct(a.top1_ci[0])}–${pct(a.top1_ci[1])}]  top-5 ${pct(a.top5).padStart(6)}  mistake severity ${
          a.mistake_severity === null ? "–" : a.mistake_severity.toFixed(2)
        }`,
      );
    }
  }
  const small = doc.domains.filter((d) => d.inconclusive).map((d) => d.domain);
  if (small.length) {
    console.log(
      `  No significant CLIP-ResNet difference (McNemar p >= 0.05, or n < 30) for ${
        small.join(", ")
      }: use deno task eval on a full dataset.`,
    );
  }
  if (doc.summary.skipped) console.log(`  ${doc.summary.skipped} input(s) skipped (listed on stderr)`);
  if (reportDir) console.log(`Report: ${reportDir}/report.html (also report.md, results.json, results.csv)`);
}

/**
 * Prints what a compare run gives (the document or the tables, the warnings) and says how it ended.
 *
 * @param doc The compare document.
 * @param reportDir Where the report was written, or null.
 * @param opts `--json` and `--per-image`.
 * @returns The exit status: 0 done, 130 interrupted; a run that processed nothing or stopped on an error throws.
 */
export function finishCompare(
  doc: CompareDocument,
  reportDir: string | null,
  opts: { json: boolean; perImage: boolean },
): number {
  for (const s of doc.skipped) info(`skipped ${s.path}: ${s.reason}`);
  if (doc.summary.n === 0) {
    if (doc.incomplete === INTERRUPTED) {
      info(`clipcmp compare: interrupted before any image was scored; nothing was written`);
      return EXIT_INTERRUPTED;
    }
    throw new ClipcmpError("Nothing was processed: every input was skipped");
  }
  const nl = doc.label_set.length;
  if (nl <= 5) {
    info(
      `warning: the label set has ${nl} class${nl === 1 ? "" : "es"}: ${
        nl === 1 ? "top-1 and top-5" : "top-5"
      } over it ${nl === 1 ? "are" : "is"} 100 % by construction; the 1000-way ResNet rows are the informative ones`,
    );
  }
  if (opts.json) console.log(JSON.stringify(doc, null, 2));
  else {
    if (opts.perImage) printPerImage(doc);
    printSummary(doc, reportDir);
  }
  if (doc.incomplete === INTERRUPTED) {
    info(
      `clipcmp compare: interrupted after ${doc.summary.n} images; ${
        reportDir ? `the report of those is in ${reportDir}` : "their results were printed"
      } (the rest are listed as not run)`,
    );
    return EXIT_INTERRUPTED;
  }
  if (doc.incomplete) {
    throw new ClipcmpError(
      `stopped after ${doc.summary.n} images: ${doc.incomplete}; the finished results were ${
        reportDir ? `written to ${reportDir}` : "printed"
      }`,
    );
  }
  return 0;
}
