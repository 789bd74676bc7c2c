/**
 * The eval report: the same analyses as compare's report (accuracy with intervals, paired tests, effective
 * robustness, confusions, per-class ranking) over whole datasets, from `results.jsonl` lines. Written beside
 * `metrics.json` and `metrics.csv` as `report.md` and a self-contained `report.html`.
 *
 * @example
 * ```ts
 * import { evalReport } from "./eval_report.ts";
 * const line = (dataset: string, t: number, c: number, r: number) => ({ dataset, path: `${dataset}/${t}.jpg`,
 *   true: t, top5: { clip: [c], resnet: [r] } });
 * const rep = evalReport([line("val", 1, 1, 2), line("sketch", 1, 1, 1)], { reference: "val", meta: [] });
 * if (rep.domains.length !== 2 || !rep.markdown.includes("## Effective robustness")) throw new Error();
 * ```
 *
 * @module
 */
import type { EvalLine } from "../documents.ts";
import { imagenetClasses } from "../data/imagenet.ts";
import { type DomainSummary, type EvalRecord, perClass, summarizeDomains } from "./metrics.ts";
import { type Analysis, analyze } from "./analysis.ts";
import type { Judged } from "./differences.ts";
import { baselineFor } from "./baselines.ts";
import { mdText } from "./escape.ts";
import { esc, legendItem } from "./svg.ts";
import {
  accRow,
  accuracyChart,
  conclusion,
  confusionSection,
  GALLERY_MAX,
  pairedHtml,
  pairedSection,
  perClassHtml,
  perClassSection,
  REPORT_CSS,
  robustnessHtml,
  robustnessSection,
  tableFromMarkdown,
} from "./sections.ts";

/** What the eval report needs besides the results. */
export interface EvalReportOptions {
  /** The in-distribution dataset; by default the first whose name matches no published shift. */
  reference?: string;
  /** Display names by model key. */
  names?: Readonly<Record<string, string>>;
  /** Lines for the provenance list (models, run settings). */
  meta: readonly string[];
  /** Names of the classes outside ImageNet (ids from 1000 up, from class-name folders). */
  classNames?: ReadonlyMap<number, string>;
}

/** The rendered report and what it was computed from. */
export interface EvalReport {
  domains: DomainSummary[];
  analysis: Analysis;
  reference: string | undefined;
  markdown: string;
  html: string;
}

const DEFAULT_NAMES = { clip: "CLIP zero-shot", resnet: "ResNet" };

/**
 * Builds the eval report from result lines.
 *
 * @param lines The per-image results (all datasets).
 * @param opts Reference dataset, model names and provenance lines.
 * @returns Markdown, HTML and the figures behind them.
 */
export function evalReport(lines: readonly EvalLine[], opts: EvalReportOptions): EvalReport {
  const imagenet = imagenetClasses();
  const labelOf = (id: number) => imagenet[id]?.clip ?? opts.classNames?.get(id) ?? `class ${id}`;
  const wnidOf = (id: number) => imagenet[id]?.wnid ?? "";
  const names = { ...DEFAULT_NAMES, ...opts.names };
  const models = [...new Set(lines.flatMap((l) => Object.keys(l.top5)))].sort();
  const records: EvalRecord[] = lines.map((l) => ({
    domain: l.dataset,
    true: { index: l.true, wnid: wnidOf(l.true) },
    preds: Object.fromEntries(Object.entries(l.top5).map(([m, t]) => [m, t.map((index) => ({ index }))])),
  }));
  const images: Judged[] = lines.map((l) => ({
    domain: l.dataset,
    true: { index: l.true, label: labelOf(l.true), wnid: wnidOf(l.true) },
    preds: Object.fromEntries(
      Object.entries(l.top5).map((
        [m, t],
      ) => [m, t.map((index) => ({ index, label: labelOf(index), score: NaN }))]),
    ),
  }));
  const domains = summarizeDomains(records, models, wnidOf);
  const reference = opts.reference ?? domains.find((d) => baselineFor(d.domain) === null)?.domain ??
    domains[0]?.domain;
  const analysis = analyze(images, domains, reference, names);
  const rows = perClass(records, models);
  const labelSet = [...new Set(lines.map((l) => l.true))].sort((a, b) => a - b).map((index) => ({
    index,
    label: labelOf(index),
  }));
  // Which classes the ResNets could score, per dataset, where that is not all of them (class-name folders).
  const coverage = domains.flatMap((d) => {
    if (!models.some((m) => m.startsWith("resnet"))) return [];
    const ls = lines.filter((l) => l.dataset === d.domain);
    const all = [...new Set(ls.map((l) => l.true))].sort((a, b) => a - b);
    const scored = new Set(
      ls.filter((l) => Object.keys(l.top5).some((m) => m.startsWith("resnet"))).map((l) => l.true),
    );
    if (scored.size === all.length) return [];
    return [{
      dataset: d.domain,
      scored: all.filter((c) => scored.has(c)).map(labelOf),
      unscored: all.filter((c) => !scored.has(c)).map(labelOf),
    }];
  });

  const md: string[] = [`# clipcmp eval: ${domains.map((d) => mdText(d.domain)).join(", ")}`, ""];
  md.push(
    `${lines.length} images in ${domains.length} dataset(s); reference (in-distribution) dataset: ${
      reference ? mdText(reference) : "none"
    }.`,
    "",
    "## Accuracy per dataset",
    "",
    "Top-1 and top-5 in %, with the 95 % Wilson interval of top-1; both models scored on each dataset's classes.",
    "",
    "| model | n | top-1 | 95 % CI | top-5 | mean per-class recall | mistake severity |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const d of domains) {
    md.push(`| **${mdText(d.domain)}** (${d.classes} classes) | | | | | | |`);
    for (const [k, a] of Object.entries(d.models)) md.push(accRow(names[k as keyof typeof names] ?? k, a));
  }
  md.push("");
  for (const d of domains) if (d.clip_minus_resnet) md.push(`- **${mdText(d.domain)}**: ${conclusion(d)}`);
  md.push("");
  if (coverage.length) {
    md.push("## Classes the ResNet could score", "");
    md.push(
      "Class-name folders: CLIP scores every class zero-shot on its name; a ResNet only the classes that map to ImageNet (by wnid or `--class-map`), and its figures are over those images only.",
      "",
    );
    for (const c of coverage) {
      md.push(
        `- **${mdText(c.dataset)}**: ${c.scored.length} of ${c.scored.length + c.unscored.length} classes scored (${
          c.scored.map(mdText).join(", ") || "none"
        }); not in ImageNet: ${c.unscored.map(mdText).join(", ")}.`,
      );
    }
    md.push("");
  }
  md.push(...pairedSection(analysis, names));
  md.push(...robustnessSection(analysis, names));
  md.push(...confusionSection(domains, names, analysis, false));
  md.push(...perClassSection(domains, rows, labelSet, analysis, names));
  md.push("", "## Provenance", "", ...opts.meta.map((m) => `- ${mdText(m)}`));
  const markdown = md.join("\n") + "\n";

  const table = (s: string) => tableFromMarkdown(markdown, s);
  const gallery = (id: string, title: string, idx: number[]) =>
    `<div id="${id}"><h3>${esc(title)} (${idx.length})</h3>${
      idx.length
        ? `<table><tr><th>dataset</th><th>image</th><th>true</th><th>${esc(names.clip)}</th><th>${
          esc(names.resnet)
        }</th></tr>${
          idx.slice(0, GALLERY_MAX).map((i) => {
            const im = images[i]!;
            return `<tr><td>${esc(im.domain)}</td><td><small>${esc(lines[i]!.path)}</small></td><td>${
              esc(im.true.label)
            }</td><td>${esc(im.preds.clip?.[0]?.label ?? "")}</td><td>${
              esc(im.preds.resnet?.[0]?.label ?? "")
            }</td></tr>`;
          }).join("")
        }</table>${idx.length > GALLERY_MAX ? `<p>The first ${GALLERY_MAX} in result order.</p>` : ""}`
        : "<p>None.</p>"
    }</div>`;
  const both = domains.some((d) => d.models.clip && d.models.resnet);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clipcmp eval</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
${REPORT_CSS}</style></head><body>
<h1>clipcmp eval: ${esc(domains.map((d) => d.domain).join(", "))}</h1>
<p>${lines.length} images in ${domains.length} dataset(s); reference (in-distribution) dataset: ${
    reference ? esc(reference) : "none"
  }.</p>
<section id="summary"><h2>Top-1 accuracy per dataset</h2><p class="legend">${
    Object.keys(domains[0]?.models ?? {}).map((k, i) => legendItem(i, names[k as keyof typeof names] ?? k)).join(" ")
  } · lines: 95 % Wilson intervals</p>${accuracyChart(domains, names)}
${table("Accuracy per dataset")}<ul>${
    domains.filter((d) => d.clip_minus_resnet).map((d) =>
      `<li><b>${esc(d.domain)}</b>: ${esc(conclusion(d)).replace(/`(.*?)`/g, "<code>$1</code>")}</li>`
    ).join("")
  }</ul></section>
${
    coverage.length
      ? `<section id="resnet-coverage"><h2>Classes the ResNet could score</h2><p>Class-name folders: CLIP scores every class zero-shot on its name; a ResNet only the classes that map to ImageNet (by wnid or <code>--class-map</code>), and its figures are over those images only.</p><ul>${
        coverage.map((c) =>
          `<li><b>${esc(c.dataset)}</b>: ${c.scored.length} of ${c.scored.length + c.unscored.length} classes scored (${
            esc(c.scored.join(", ") || "none")
          }); not in ImageNet: ${esc(c.unscored.join(", "))}.</li>`
        ).join("")
      }</ul></section>`
      : ""
  }
${pairedHtml(table("Paired comparison"))}
${robustnessHtml(analysis, names)}
<section id="confusions"><h2>Most frequent confusions</h2><p>Wrong top-1 predictions per model and dataset; distance: WordNet hypernym edges from the true class up to the nearest ancestor it shares with the prediction.</p>${
    table("Where they differ") || "<p>No mistakes.</p>"
  }</section>
${
    both
      ? `<section id="galleries"><h2>One right, the other wrong</h2>${
        gallery("clip-only", `${names.clip} right, ${names.resnet} wrong`, analysis.galleries.clip_only)
      }${
        gallery("resnet-only", `${names.resnet} right, ${names.clip} wrong`, analysis.galleries.resnet_only)
      }</section>`
      : ""
  }
${perClassHtml(domains, rows, analysis, table("Per class"), names)}
<section id="provenance"><h2>Provenance</h2><ul>${opts.meta.map((m) => `<li>${esc(m)}</li>`).join("")}</ul></section>
</body></html>
`;
  return { domains, analysis, reference, markdown, html };
}
