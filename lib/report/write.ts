/**
 * The comparison report: `report.md`, `results.json` (CLIP_benchmark-like metric names), `results.csv`
 * (timm-like columns) and a self-contained `report.html` (embedded thumbnails, top-5 bars, inline SVG charts,
 * no network references). Every file is written atomically.
 *
 * @module
 */
import { csvRow, mdText, mdUnescape } from "./escape.ts";
import type { CompareDocument, CompareResult, Score } from "../documents.ts";
import { writeFilesAtomic } from "../fs.ts";
import { timmCells } from "./timm.ts";
import { esc, legendItem } from "./svg.ts";
import { type Analysis, analyze, judged } from "./analysis.ts";
import {
  accRow,
  accuracyChart,
  conclusion,
  confusionSection,
  GALLERY_MAX,
  pairedHtml,
  pairedSection,
  pct,
  perClassHtml,
  perClassSection,
  REPORT_CSS,
  robustnessHtml,
  robustnessSection,
  tableFromMarkdown,
} from "./sections.ts";

/** What each result column is called in this document: the loaded models' own names. */
export function modelLabels(doc: CompareDocument): Record<string, string> {
  const m = doc.provenance.models;
  const clip = m.clip?.name ?? "CLIP", resnet = m.resnet?.name ?? "ResNet";
  const out: Record<string, string> = {
    clip: `${clip} zero-shot`,
    resnet: `${resnet} (label set)`,
    resnet_1000: `${resnet} (1000-way)`,
  };
  for (const x of m.more ?? []) out[x.key] = x.kind === "clip" ? `${x.name} zero-shot` : `${x.name} (label set)`;
  return out;
}

/** "ResNet vs CLIP" in the models' own names. */
function title(doc: CompareDocument): string {
  const m = doc.provenance.models;
  const resnets = [m.resnet?.name, ...(m.more ?? []).filter((x) => x.kind === "resnet").map((x) => x.name)];
  const clips = [m.clip?.name, ...(m.more ?? []).filter((x) => x.kind === "clip").map((x) => x.name)];
  return [resnets.filter(Boolean).join(", "), clips.filter(Boolean).join(", ")].filter(Boolean).join(" vs ") ||
    "clipcmp";
}

/** The reference domain for `*_diff` columns: photo when present, else the first. */
export function referenceDomain(doc: CompareDocument): string | undefined {
  return doc.domains.find((d) => d.domain === "photo")?.domain ?? doc.domains[0]?.domain;
}

function modelMeta(doc: CompareDocument, key: string): { params: string; interpolation: string } {
  const p = doc.provenance.models;
  const more = (p.more ?? []).find((x) => x.key === key);
  if (more) {
    return more.kind === "clip"
      ? {
        params: ((more.visual.initializer_elements + more.textual.initializer_elements) / 1e6).toFixed(2),
        interpolation: "bicubic",
      }
      : {
        params: (more.initializer_elements / 1e6).toFixed(2),
        interpolation: more.preprocessing.includes("bicubic") ? "bicubic" : "bilinear",
      };
  }
  if (key === "clip" && p.clip) {
    return {
      params: ((p.clip.visual.initializer_elements + p.clip.textual.initializer_elements) / 1e6).toFixed(2),
      interpolation: "bicubic",
    };
  }
  if (p.resnet) {
    return {
      params: (p.resnet.initializer_elements / 1e6).toFixed(2),
      interpolation: p.resnet.preprocessing.includes("bicubic") ? "bicubic" : "bilinear",
    };
  }
  return { params: "", interpolation: "" };
}

/**
 * timm-like CSV: one row per model and domain, accuracies in %, with diffs against the reference domain.
 *
 * @param doc The comparison.
 * @returns CSV text.
 */
export function renderCsv(doc: CompareDocument): string {
  const ref = referenceDomain(doc);
  const refDomain = doc.domains.find((d) => d.domain === ref);
  const rows = [
    [
      "model",
      "domain",
      "n",
      "top1",
      "top1_err",
      "top5",
      "top5_err",
      "top1_diff",
      "top5_diff",
      "mean_per_class_recall",
      "param_count",
      "img_size",
      "interpolation",
    ].join(","),
  ];
  for (const d of doc.domains) {
    for (const [key, a] of Object.entries(d.models)) {
      const r = refDomain?.models[key];
      const meta = modelMeta(doc, key);
      rows.push(csvRow([
        key,
        d.domain,
        a.n,
        ...timmCells(a, r, 1),
        meta.params,
        224,
        meta.interpolation,
      ]));
    }
  }
  return rows.join("\n") + "\n";
}

function pretrainedOf(doc: CompareDocument, key: string): string | undefined {
  const p = doc.provenance.models;
  const more = (p.more ?? []).find((x) => x.key === key);
  if (more) return more.kind === "clip" ? more.dir : more.path;
  return key === "clip" ? p.clip?.dir : p.resnet?.path;
}

/**
 * CLIP_benchmark-like JSON: per model and domain `{ dataset, model, task, metrics: { acc1, acc5,
 * mean_per_class_recall } }` (fractions), plus the whole comparison document.
 *
 * @param doc The comparison.
 * @returns JSON text.
 */
export function renderJson(doc: CompareDocument, analysis: Analysis = reportAnalysis(doc)): string {
  const entries = doc.domains.flatMap((d) =>
    Object.entries(d.models).map(([key, a]) => ({
      dataset: d.domain,
      model: key,
      pretrained: pretrainedOf(doc, key),
      task: key.startsWith("clip") ? "zeroshot_classification" : "classification",
      metrics: { acc1: a.top1, acc5: a.top5, mean_per_class_recall: a.mean_per_class_recall },
    }))
  );
  return JSON.stringify({ benchmark: entries, analysis, comparison: doc }, null, 2) + "\n";
}

/** The analyses of a document, with its reference domain and model names. */
export function reportAnalysis(doc: CompareDocument): Analysis {
  return analyze(judged(doc), doc.domains, referenceDomain(doc), modelLabels(doc));
}

/**
 * Which classes the ResNets could not score (class-name folders outside ImageNet), as plain text, or null when
 * they scored all of them or no ResNet ran.
 */
function resnetCoverage(doc: CompareDocument): string | null {
  const m = doc.provenance.models;
  const outside = doc.label_set.filter((l) => l.index >= 1000);
  if (!outside.length || !(m.resnet || m.more.some((x) => x.kind === "resnet"))) return null;
  return `Class-name folders: CLIP scores all ${doc.label_set.length} classes zero-shot; the ResNets score the ${
    doc.label_set.length - outside.length
  } that are ImageNet classes, over their images only. Not in ImageNet: ${outside.map((l) => l.label).join(", ")}.`;
}

/**
 * The Markdown report.
 *
 * @param doc The comparison.
 * @returns Markdown text.
 */
export function renderMarkdown(doc: CompareDocument, analysis: Analysis = reportAnalysis(doc)): string {
  const p = doc.provenance;
  const out: string[] = [];
  out.push(`# ${mdText(title(doc))} under distribution shift`, "");
  out.push(
    `${doc.summary.n} images in ${doc.domains.length} domain(s), scored by both models on one label set of ${doc.label_set.length} ImageNet classes.`,
    "",
  );
  out.push("## Accuracy per domain", "");
  out.push(
    "Top-1 and top-5 in %, with the 95 % Wilson interval of top-1. Severity: mean WordNet edges from the true class up to the nearest ancestor shared with a wrong top-1 prediction (lower means better mistakes).",
    "",
  );
  out.push(
    "| model | n | top-1 | 95 % CI | top-5 | mean per-class recall | mistake severity |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const d of doc.domains) {
    out.push(`| **${mdText(d.domain)}** (${d.classes} classes) | | | | | | |`);
    for (const [k, a] of Object.entries(d.models)) out.push(accRow(modelLabels(doc)[k] ?? k, a));
  }
  out.push("");
  for (const d of doc.domains) if (d.clip_minus_resnet) out.push(`- **${mdText(d.domain)}**: ${conclusion(d)}`);
  out.push("");
  if (doc.like_for_like.length) {
    out.push("## Like-for-like: domains compared on the classes they share", "");
    out.push(
      "| domains | shared classes | model | top-1 in first | top-1 in second | n |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const l of doc.like_for_like) {
      const [a, b] = l.domains;
      for (const k of Object.keys(l.accuracy[a]!)) {
        const x = l.accuracy[a]![k]!, y = l.accuracy[b]![k]!;
        out.push(
          `| ${mdText(a)} → ${mdText(b)} | ${l.classes.length} | ${mdText(modelLabels(doc)[k] ?? k)} | ${
            pct(x.top1)
          } | ${pct(y.top1)} | ${x.n} / ${y.n} |`,
        );
      }
    }
    out.push("");
  }
  const coverage = resnetCoverage(doc);
  if (coverage) out.push("## Classes the ResNet could score", "", mdText(coverage), "");
  out.push(...pairedSection(analysis, modelLabels(doc)));
  out.push(...robustnessSection(analysis, modelLabels(doc)));
  out.push(...confusionSection(doc.domains, modelLabels(doc), analysis, true));
  out.push(...perClassSection(doc.domains, doc.per_class, doc.label_set, analysis, modelLabels(doc)));
  out.push("", "## Provenance", "");
  out.push(`- clipcmp ${doc.version}, ${p.time}`);
  out.push(`- execution provider: ${p.ep}; ${p.device_reason}`);
  out.push(`- adapter: ${p.adapter ?? "none"}; dtype: ${p.dtype}`);
  if (p.models.clip) {
    out.push(
      `- CLIP: ${
        mdText(p.models.clip.dir)
      } (visual sha256 ${p.models.clip.visual.sha256}, textual sha256 ${p.models.clip.textual.sha256}); ${p.models.clip.preprocessing}`,
    );
  }
  for (const [tower, f] of [["image", p.models.clip?.visual], ["text", p.models.clip?.textual]] as const) {
    if (f?.activation_note) out.push(`- CLIP ${tower} tower: ${f.activation_note}`);
  }
  if (p.models.resnet) {
    out.push(
      `- ResNet: ${mdText(p.models.resnet.path)} (sha256 ${p.models.resnet.sha256}); ${p.models.resnet.preprocessing}`,
    );
  }
  for (const x of p.models.more ?? []) {
    out.push(
      x.kind === "clip"
        ? `- CLIP ${mdText(x.name)} (${x.key}): ${
          mdText(x.dir)
        } (visual sha256 ${x.visual.sha256}, textual sha256 ${x.textual.sha256}); ${x.preprocessing}`
        : `- ResNet ${mdText(x.name)} (${x.key}): ${mdText(x.path)} (sha256 ${x.sha256}); ${x.preprocessing}`,
    );
  }
  out.push(
    `- templates (${p.templates.length}): ${p.templates.slice(0, 3).map((t) => `"${mdText(t)}"`).join(", ")}${
      p.templates.length > 3 ? ", …" : ""
    }; logit scale ${p.logit_scale}`,
  );
  out.push(
    `- label set (${doc.label_set.length}): ${doc.label_set.map((l) => `${mdText(l.label)} (#${l.index})`).join(", ")}`,
  );
  if (doc.skipped.length) {
    out.push(
      `- skipped ${doc.skipped.length} input(s): ${
        doc.skipped.map((s) => `${mdText(s.path)} (${mdText(s.reason)})`).join("; ")
      }`,
    );
  }
  return out.join("\n") + "\n";
}

function bars(scores: Score[], trueIndex: number): string {
  return scores.map((s) =>
    `<div class="bar${s.index === trueIndex ? " hit" : ""}"><span class="lbl">${
      esc(s.label)
    }</span><span class="track"><span class="fill" style="width:${
      (100 * s.score).toFixed(1)
    }%"></span></span><span class="val">${pct(s.score)}%</span></div>`
  ).join("");
}

function imageCard(r: CompareResult, thumb: string | undefined, names: { clip: string; resnet: string }): string {
  const cols = [
    r.clip ? `<div class="col"><h4>${esc(names.clip)}</h4>${bars(r.clip.top5, r.true.index)}</div>` : "",
    r.resnet ? `<div class="col"><h4>${esc(names.resnet)}</h4>${bars(r.resnet.top5, r.true.index)}</div>` : "",
  ].join("");
  const ok = (s?: Score[]) => (s?.[0]?.index === r.true.index ? "✓" : "✗");
  return `<article class="card" data-domain="${esc(r.domain)}">${
    thumb ? `<img src="${thumb}" alt="${esc(r.path)}">` : ""
  }<div class="meta"><b>${esc(r.true.label)}</b> <span class="dom">${esc(r.domain)}</span><br><small>${
    esc(r.path)
  }</small><br><small>CLIP ${ok(r.clip?.top5)} · ResNet ${
    ok(r.resnet?.top5)
  }</small></div><div class="cols">${cols}</div></article>`;
}

function galleriesHtml(doc: CompareDocument, a: Analysis, thumbs: Map<string, string>): string {
  if (!doc.domains.some((d) => d.models.clip && d.models.resnet)) return "";
  const names = {
    clip: doc.provenance.models.clip?.name ?? "CLIP",
    resnet: doc.provenance.models.resnet?.name ?? "ResNet",
  };
  const one = (id: string, title: string, idx: number[]) =>
    `<div id="${id}"><h3>${esc(title)} (${idx.length})</h3>${
      idx.length > GALLERY_MAX ? `<p>The first ${GALLERY_MAX} in input order.</p>` : ""
    }<div class="cards">${
      idx.slice(0, GALLERY_MAX).map((i) => imageCard(doc.results[i]!, thumbs.get(doc.results[i]!.path), names)).join(
        "\n",
      ) || "<p>None.</p>"
    }</div></div>`;
  return `<section id="galleries"><h2>One right, the other wrong</h2>${
    one("clip-only", `${names.clip} right, ${names.resnet} wrong`, a.galleries.clip_only)
  }${one("resnet-only", `${names.resnet} right, ${names.clip} wrong`, a.galleries.resnet_only)}</section>`;
}

/**
 * The self-contained HTML report.
 *
 * @param doc The comparison.
 * @param thumbs Data-URI thumbnails by path.
 * @returns HTML text.
 */
export function renderHtml(
  doc: CompareDocument,
  thumbs: Map<string, string>,
  analysis: Analysis = reportAnalysis(doc),
): string {
  const md = renderMarkdown(doc, analysis);
  const coverage = resnetCoverage(doc);
  const tableFromMd = (section: string) => tableFromMarkdown(md, section);
  const p = doc.provenance;
  const models = [
    p.models.clip ? `CLIP: ${p.models.clip.dir}` : "",
    p.models.resnet ? `ResNet: ${p.models.resnet.path}` : "",
    ...(p.models.more ?? []).map((x) =>
      `${x.kind === "clip" ? "CLIP" : "ResNet"}: ${x.kind === "clip" ? x.dir : x.path}`
    ),
  ].filter(Boolean).join(" · ");
  const domains = doc.domains.map((d) => d.domain);
  const notes = doc.domains.filter((d) => d.clip_minus_resnet).map((d) =>
    `<li><b>${esc(d.domain)}</b>: ${esc(conclusion(d)).replace(/`(.*?)`/g, "<code>$1</code>")}</li>`
  ).join("");
  const provenance = md.split("## Provenance\n")[1]!.trim().split("\n").map((l) =>
    `<li>${esc(mdUnescape(l.replace(/^- /, "")))}</li>`
  ).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clipcmp: ${esc(title(doc))}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
${REPORT_CSS}</style></head><body>
<h1>${esc(title(doc))} under distribution shift</h1>
<p id="models">${esc(models)}</p>
<p>${doc.summary.n} images in ${doc.domains.length} domain(s), both models scored on one label set of ${doc.label_set.length} ImageNet classes. CLIP: softmax(${p.logit_scale} · cos) over the label set's prompts; ResNet: its 1000 logits restricted to the label set.</p>
<section id="summary"><h2>Top-1 accuracy per domain</h2><p class="legend">${
    Object.keys(doc.domains[0]?.models ?? {}).map((k, i) => legendItem(i, modelLabels(doc)[k] ?? k)).join(" ")
  } · lines: 95 % Wilson intervals</p>${accuracyChart(doc.domains, modelLabels(doc))}
${tableFromMd("Accuracy per domain")}<ul>${notes}</ul></section>
${
    coverage
      ? `<section id="resnet-coverage"><h2>Classes the ResNet could score</h2><p>${esc(coverage)}</p></section>`
      : ""
  }
${pairedHtml(tableFromMd("Paired comparison"))}
${robustnessHtml(analysis, modelLabels(doc))}
<section id="confusions"><h2>Most frequent confusions</h2><p>Wrong top-1 predictions per model and domain; distance: WordNet hypernym edges from the true class up to the nearest ancestor it shares with the prediction.</p>${
    tableFromMd("Where they differ") || "<p>No mistakes.</p>"
  }</section>
${galleriesHtml(doc, analysis, thumbs)}
<section id="like-for-like"><h2>Like-for-like: domains compared on the classes they share</h2>${
    tableFromMd("Like-for-like: domains compared on the classes they share") || "<p>No two domains share a class.</p>"
  }</section>
${perClassHtml(doc.domains, doc.per_class, analysis, tableFromMd("Per class"), modelLabels(doc))}
<section id="images"><h2>Every image: top-5 of both models</h2>
<p class="filters">Show: <button class="on" data-f="all">all</button>${
    domains.map((d) => `<button data-f="${esc(d)}">${esc(d)}</button>`).join("")
  }</p>
<div class="cards">${
    doc.results.map((r) =>
      imageCard(r, thumbs.get(r.path), {
        clip: doc.provenance.models.clip?.name ?? "CLIP",
        resnet: doc.provenance.models.resnet?.name ?? "ResNet",
      })
    ).join("\n")
  }</div></section>
<section id="provenance"><h2>Provenance</h2><ul>${provenance}</ul></section>
<script>
for (const b of document.querySelectorAll(".filters button")) {
  b.addEventListener("click", () => {
    for (const o of document.querySelectorAll(".filters button")) o.classList.toggle("on", o === b);
    for (const c of document.querySelectorAll(".card")) c.style.display = b.dataset.f === "all" || c.dataset.domain === b.dataset.f ? "" : "none";
  });
}
</script>
</body></html>
`;
}

/**
 * Writes the four report files into `dir` (created if needed), each atomically.
 *
 * @param dir The report directory.
 * @param doc The comparison.
 * @param thumbs Data-URI thumbnails by path.
 * @returns The paths written.
 */
export async function writeReport(dir: string, doc: CompareDocument, thumbs: Map<string, string>): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const analysis = reportAnalysis(doc);
  const files: [string, string][] = [
    ["report.md", renderMarkdown(doc, analysis)],
    ["results.json", renderJson(doc, analysis)],
    ["results.csv", renderCsv(doc)],
    ["report.html", renderHtml(doc, thumbs, analysis)],
  ];
  // All four as one set: a kill leaves either the previous set or the new one (and at worst temp files that the
  // next run's prepareOutDir removes), never report.md of one run beside results.json of another.
  await writeFilesAtomic(files.map(([name, text]) => [`${dir}/${name}`, text]));
  return files.map(([name]) => `${dir}/${name}`);
}
