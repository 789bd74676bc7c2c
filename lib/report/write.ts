/**
 * The comparison report: `report.md`, `results.json` (CLIP_benchmark-like metric names), `results.csv`
 * (timm-like columns) and a self-contained `report.html` (embedded thumbnails, top-5 bars, inline SVG charts,
 * no network references). Every file is written atomically.
 *
 * @module
 */
import { csvRow, mdText, mdUnescape } from "./escape.ts";
import type { CompareDocument, CompareResult, Score } from "../documents.ts";
import type { Accuracy, DomainSummary } from "./metrics.ts";
import { writeFilesAtomic } from "../fs.ts";
import { timmCells } from "./timm.ts";

/** What each result column is called in this document: the loaded models' own names. */
export function modelLabels(doc: CompareDocument): Record<string, string> {
  const m = doc.provenance.models;
  const clip = m.clip?.name ?? "CLIP", resnet = m.resnet?.name ?? "ResNet";
  return { clip: `${clip} zero-shot`, resnet: `${resnet} (label set)`, resnet_1000: `${resnet} (1000-way)` };
}

/** "ResNet vs CLIP" in the models' own names. */
function title(doc: CompareDocument): string {
  const m = doc.provenance.models;
  return [m.resnet?.name, m.clip?.name].filter(Boolean).join(" vs ") || "clipcmp";
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;
const ci = (a: [number, number]) => `${pct(a[0])}–${pct(a[1])}`;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The reference domain for `*_diff` columns: photo when present, else the first. */
export function referenceDomain(doc: CompareDocument): string | undefined {
  return doc.domains.find((d) => d.domain === "photo")?.domain ?? doc.domains[0]?.domain;
}

function modelMeta(doc: CompareDocument, key: string): { params: string; interpolation: string } {
  const p = doc.provenance.models;
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

/**
 * CLIP_benchmark-like JSON: per model and domain `{ dataset, model, task, metrics: { acc1, acc5,
 * mean_per_class_recall } }` (fractions), plus the whole comparison document.
 *
 * @param doc The comparison.
 * @returns JSON text.
 */
export function renderJson(doc: CompareDocument): string {
  const entries = doc.domains.flatMap((d) =>
    Object.entries(d.models).map(([key, a]) => ({
      dataset: d.domain,
      model: key,
      pretrained: key === "clip" ? doc.provenance.models.clip?.dir : doc.provenance.models.resnet?.path,
      task: key === "clip" ? "zeroshot_classification" : "classification",
      metrics: { acc1: a.top1, acc5: a.top5, mean_per_class_recall: a.mean_per_class_recall },
    }))
  );
  return JSON.stringify({ benchmark: entries, comparison: doc }, null, 2) + "\n";
}

function accRow(name: string, a: Accuracy): string {
  const sev = a.mistake_severity === null ? "–" : a.mistake_severity.toFixed(2);
  return `| ${name} | ${a.n} | ${pct(a.top1)} | ${ci(a.top1_ci)} | ${pct(a.top5)} | ${
    pct(a.mean_per_class_recall)
  } | ${sev} |`;
}

function conclusion(d: DomainSummary): string {
  if (!d.clip_minus_resnet) return "";
  const diff = `CLIP − ResNet: top-1 ${d.clip_minus_resnet.top1 >= 0 ? "+" : ""}${
    pct(d.clip_minus_resnet.top1)
  } points`;
  const pr = d.paired;
  if (!pr) return `${diff}.`;
  const bs = pr.bootstrap;
  const tests = `McNemar's exact test on the ${
    pr.mcnemar.b + pr.mcnemar.c
  } images where exactly one is right (${pr.mcnemar.b} only CLIP, ${pr.mcnemar.c} only ResNet): p = ${
    pValue(pr.mcnemar.p)
  }; paired bootstrap 95 % interval of the difference ${signedPct(bs.ci[0])} to ${
    signedPct(bs.ci[1])
  } points (${bs.resamples} resamples, seed ${bs.seed})`;
  if (d.n < 30) {
    return `${diff}. ${tests}. Too few images to conclude (n=${d.n} < 30): run \`deno task eval\` on a full dataset.`;
  }
  return d.inconclusive
    ? `${diff}. ${tests}: the difference is not significant at the 5 % level.`
    : `${diff}. ${tests}: the models differ at the 5 % level.`;
}

function pValue(p: number): string {
  return p < 1e-4 ? "< 0.0001" : p.toFixed(4);
}

function signedPct(x: number): string {
  return `${x >= 0 ? "+" : ""}${pct(x)}`;
}

/**
 * The Markdown report.
 *
 * @param doc The comparison.
 * @returns Markdown text.
 */
export function renderMarkdown(doc: CompareDocument): string {
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
  out.push("## Per class", "", "Top-1 hits / images, per domain.", "");
  const domains = doc.domains.map((d) => d.domain);
  const keys = Object.keys(doc.domains[0]?.models ?? {}).filter((k) => k !== "resnet_1000");
  out.push(`| class | ${domains.map((d) => keys.map((k) => `${mdText(d)} ${k}`).join(" | ")).join(" | ")} |`);
  out.push(`| --- | ${domains.map(() => keys.map(() => "---").join(" | ")).join(" | ")} |`);
  const names = new Map(doc.label_set.map((l) => [l.index, l.label]));
  for (const row of doc.per_class) {
    const cells = domains.flatMap((d) =>
      keys.map((k) => (row.domains[d] ? `${row.domains[d]!.hits[k] ?? 0}/${row.domains[d]!.n}` : ""))
    );
    out.push(`| ${mdText(names.get(row.index) ?? "")} (#${row.index}) | ${cells.join(" | ")} |`);
  }
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

function barChart(doc: CompareDocument): string {
  const keys = Object.keys(doc.domains[0]?.models ?? {}).filter((k) => k !== "resnet_1000");
  const colors: Record<string, string> = { clip: "#2f6fbf", resnet: "#d9822b" };
  const groupW = 40 + 44 * keys.length;
  const w = 60 + groupW * doc.domains.length, h = 260, base = 220, scale = 180;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="top-1 accuracy per domain">`,
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const y = base - t * scale;
    parts.push(
      `<line x1="50" x2="${w - 10}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="44" y="${
        y + 4
      }" text-anchor="end" font-size="11">${t * 100}%</text>`,
    );
  }
  doc.domains.forEach((d, i) => {
    const x0 = 60 + i * groupW;
    keys.forEach((k, j) => {
      const a = d.models[k]!;
      const x = x0 + j * 44;
      const y = base - a.top1 * scale;
      parts.push(
        `<rect x="${x}" y="${y}" width="36" height="${a.top1 * scale}" fill="${colors[k] ?? "#888"}"><title>${
          esc(modelLabels(doc)[k] ?? k)
        } on ${esc(d.domain)}: ${pct(a.top1)}% (95% CI ${ci(a.top1_ci)})</title></rect>`,
      );
      const [lo, hi] = a.top1_ci;
      parts.push(
        `<line x1="${x + 18}" x2="${x + 18}" y1="${base - lo * scale}" y2="${base - hi * scale}" stroke="#222"/>`,
      );
      parts.push(
        `<text x="${x + 18}" y="${base - hi * scale - 4}" text-anchor="middle" font-size="10">${pct(a.top1)}</text>`,
      );
    });
    parts.push(
      `<text x="${x0 + (44 * keys.length) / 2}" y="${base + 18}" text-anchor="middle" font-size="12">${
        esc(d.domain)
      } (n=${d.n})</text>`,
    );
  });
  keys.forEach((k, j) => {
    parts.push(
      `<rect x="${60 + j * 190}" y="${h - 14}" width="10" height="10" fill="${colors[k] ?? "#888"}"/><text x="${
        74 + j * 190
      }" y="${h - 5}" font-size="11">${esc(modelLabels(doc)[k] ?? k)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
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

/**
 * The self-contained HTML report.
 *
 * @param doc The comparison.
 * @param thumbs Data-URI thumbnails by path.
 * @returns HTML text.
 */
export function renderHtml(doc: CompareDocument, thumbs: Map<string, string>): string {
  const md = renderMarkdown(doc);
  const tableFromMd = (section: string) => {
    const lines = md.split("\n");
    const start = lines.findIndex((l) => l === `## ${section}`);
    if (start < 0) return "";
    const rows = lines.slice(start + 1).filter((l, i, arr) =>
      l.startsWith("|") && arr.slice(0, i).every((x) => !x.startsWith("## "))
    );
    return `<table>${
      rows.filter((l) => !/^\| ---/.test(l)).map((l, i) => {
        const cells = l.split(/(?<!\\)\|/).slice(1, -1).map((c) =>
          esc(mdUnescape(c.trim())).replace(/\*\*(.*?)\*\*/g, "<b>$1</b>")
        );
        const tag = i === 0 ? "th" : "td";
        return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join("")}</tr>`;
      }).join("")
    }</table>`;
  };
  const p = doc.provenance;
  const models = [
    p.models.clip ? `CLIP: ${p.models.clip.dir}` : "",
    p.models.resnet ? `ResNet: ${p.models.resnet.path}` : "",
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
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f4f4}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px;display:grid;grid-template-columns:84px 1fr;gap:8px}
.card img{width:80px;height:80px;object-fit:contain;background:#fafafa}.cols{grid-column:1/3;display:flex;gap:10px}
.col{flex:1}.col h4{margin:2px 0;font-size:12px}.bar{display:flex;align-items:center;gap:4px;font-size:11px}
.bar .lbl{width:110px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}.bar .track{flex:1;background:#eee;height:9px}
.bar .fill{display:block;height:9px;background:#8aa}.bar.hit .fill{background:#3a3}.bar.hit .lbl{font-weight:bold}
.meta small{overflow-wrap:anywhere}.bar .val{width:42px;text-align:right}.dom{background:#eef;padding:0 5px;border-radius:3px}
.filters button{margin-right:4px}.filters button.on{background:#2f6fbf;color:#fff}
</style></head><body>
<h1>${esc(title(doc))} under distribution shift</h1>
<p id="models">${esc(models)}</p>
<p>${doc.summary.n} images in ${doc.domains.length} domain(s), both models scored on one label set of ${doc.label_set.length} ImageNet classes. CLIP: softmax(${p.logit_scale} · cos) over the label set's prompts; ResNet: its 1000 logits restricted to the label set.</p>
<section id="summary"><h2>Top-1 accuracy per domain</h2>${barChart(doc)}
${tableFromMd("Accuracy per domain")}<ul>${notes}</ul></section>
<section id="like-for-like"><h2>Like-for-like: domains compared on the classes they share</h2>${
    tableFromMd("Like-for-like: domains compared on the classes they share") || "<p>No two domains share a class.</p>"
  }</section>
<section id="per-class"><h2>Per class</h2><p>Top-1 hits / images, per domain.</p>${tableFromMd("Per class")}</section>
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
  const files: [string, string][] = [
    ["report.md", renderMarkdown(doc)],
    ["results.json", renderJson(doc)],
    ["results.csv", renderCsv(doc)],
    ["report.html", renderHtml(doc, thumbs)],
  ];
  // All four as one set: a kill leaves either the previous set or the new one (and at worst temp files that the
  // next run's prepareOutDir removes), never report.md of one run beside results.json of another.
  await writeFilesAtomic(files.map(([name, text]) => [`${dir}/${name}`, text]));
  return files.map(([name]) => `${dir}/${name}`);
}
