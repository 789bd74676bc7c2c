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
import { esc, legendItem, marker, seriesStyle, svgOpen } from "./svg.ts";
import { type Analysis, analyze } from "./analysis.ts";
import { robustnessSvg } from "./robustness.ts";

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
export function renderJson(doc: CompareDocument, analysis: Analysis = reportAnalysis(doc)): string {
  const entries = doc.domains.flatMap((d) =>
    Object.entries(d.models).map(([key, a]) => ({
      dataset: d.domain,
      model: key,
      pretrained: key === "clip" ? doc.provenance.models.clip?.dir : doc.provenance.models.resnet?.path,
      task: key === "clip" ? "zeroshot_classification" : "classification",
      metrics: { acc1: a.top1, acc5: a.top5, mean_per_class_recall: a.mean_per_class_recall },
    }))
  );
  return JSON.stringify({ benchmark: entries, analysis, comparison: doc }, null, 2) + "\n";
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

/** The analyses of a document, with its reference domain and model names. */
export function reportAnalysis(doc: CompareDocument): Analysis {
  return analyze(doc, referenceDomain(doc), modelLabels(doc));
}

const SMALL_N =
  "Small samples: below 30 images per domain these points carry wide intervals; the embedded sets show the method, and `deno task eval` on full datasets gives the real figures.";

function pairedSection(doc: CompareDocument): string[] {
  const rows = doc.domains.filter((d) => d.paired);
  if (!rows.length) return [];
  const out = ["## Paired comparison", ""];
  out.push(
    "Both models see the same images, so they are compared pairwise: McNemar's exact test on the images where exactly one is right, and a seeded paired bootstrap interval for the top-1 difference (CLIP − ResNet, label set).",
    "",
    "| domain | n | only CLIP right | only ResNet right | McNemar p | CLIP − ResNet | bootstrap 95 % CI | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const d of rows) {
    const pr = d.paired!;
    const verdict = d.n < 30 ? "too few images" : pr.mcnemar.p < 0.05 ? "differ at 5 %" : "not significant";
    out.push(
      `| ${mdText(d.domain)} | ${d.n} | ${pr.mcnemar.b} | ${pr.mcnemar.c} | ${pValue(pr.mcnemar.p)} | ${
        signedPct(pr.bootstrap.difference)
      } | ${signedPct(pr.bootstrap.ci[0])} to ${signedPct(pr.bootstrap.ci[1])} | ${verdict} |`,
    );
  }
  const bs = rows[0]!.paired!.bootstrap;
  out.push("", `Bootstrap: ${bs.resamples} resamples of the images, seed ${bs.seed}, percentile interval.`, "");
  return out;
}

function robustnessSection(a: Analysis, names: Record<string, string>): string[] {
  if (!a.effective_robustness.length) return [];
  const out = ["## Effective robustness", ""];
  out.push(
    "Each shifted domain against the reference domain, both axes logit-scaled (Taori et al., 2020). The baseline is a line fitted in logit space through published ImageNet-1k-trained models on the matching natural shift; ρ is a model's shifted top-1 minus the baseline's prediction from its reference top-1 (positive: more robust than those models at the same accuracy).",
    "",
  );
  for (const p of a.effective_robustness) {
    out.push(`### ${mdText(p.domain)} against ${mdText(p.reference)}`, "");
    if (p.baseline) {
      const b = p.baseline, f = a.baseline_source.files[b.set];
      out.push(
        `Baseline: ${b.name}, ${b.line.n} models (logit(y) = ${b.line.slope.toFixed(3)} · logit(x) ${
          b.line.intercept >= 0 ? "+" : "−"
        } ${Math.abs(b.line.intercept).toFixed(3)}), from timm's ${f.path} at ${
          f.commit.slice(0, 10)
        }; their x axis is ${b.reference_axis}.${
          b.excluded.length ? ` Left out of the fit (0 % or 100 %): ${b.excluded.map(mdText).join(", ")}.` : ""
        }`,
        "",
      );
    } else {
      out.push("No published baseline matches this domain's name; the plot shows y = x only.", "");
    }
    out.push(
      "| model | reference top-1 | shifted top-1 | baseline predicts | ρ (points) |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const m of p.models) {
      const pred = m.rho === null ? "–" : pct(m.y.top1 - m.rho);
      out.push(
        `| ${mdText(names[m.key] ?? m.name)} | ${pct(m.x.top1)} (n=${m.x.n}) | ${
          pct(m.y.top1)
        } (n=${m.y.n}) | ${pred} | ${m.rho === null ? "–" : signedPct(m.rho)} |`,
      );
    }
    out.push("");
    if (p.small) out.push(SMALL_N, "");
  }
  return out;
}

function confusionSection(doc: CompareDocument, a: Analysis): string[] {
  const names = modelLabels(doc);
  const out = ["## Where they differ", "", "### Most frequent confusions", ""];
  out.push(
    "Wrong top-1 predictions (true → predicted), per model and domain; distance: WordNet hypernym edges from the true class up to the nearest ancestor it shares with the prediction.",
    "",
    "| domain | model | true → predicted | images | share of class | distance |",
    "| --- | --- | --- | --- | --- | --- |",
  );
  for (const c of a.confusions) {
    for (const x of c.confusions) {
      out.push(
        `| ${mdText(c.domain)} | ${mdText(names[c.model] ?? c.model)} | ${mdText(x.true_label)} (#${x.true_index}) → ${
          mdText(x.pred_label)
        } (#${x.pred_index}) | ${x.count} | ${pct(x.share)} % | ${x.distance ?? "–"} |`,
      );
    }
  }
  out.push("");
  if (doc.domains.some((d) => d.models.clip && d.models.resnet)) {
    out.push(
      `### One right, the other wrong`,
      "",
      `CLIP right and ResNet wrong (label-set top-1): ${a.galleries.clip_only.length} image(s); ResNet right and CLIP wrong: ${a.galleries.resnet_only.length}. The HTML report shows them with both top-5s.`,
      "",
    );
  }
  return out;
}

function perClassSection(doc: CompareDocument, a: Analysis): string[] {
  const out = ["## Per class", ""];
  const domains = doc.domains.map((d) => d.domain);
  const hits = new Map(doc.per_class.map((r) => [r.index, r]));
  const cell = (index: number) =>
    domains.map((d) => {
      const r = hits.get(index)?.domains[d];
      return r ? `${mdText(d)} ${r.hits.clip ?? 0}/${r.hits.resnet ?? 0} of ${r.n}` : "";
    }).filter(Boolean).join("; ");
  if (a.per_class.length) {
    out.push(
      "Top-1 over all domains per class, sorted by CLIP − ResNet (label set); the last column gives CLIP / ResNet hits of the images per domain.",
      "",
      "| class | n | CLIP top-1 | ResNet top-1 | CLIP − ResNet | hits per domain |",
      "| --- | --- | --- | --- | --- | --- |",
    );
    for (const r of a.per_class) {
      out.push(
        `| ${mdText(r.label)} (#${r.index}) | ${r.n} | ${pct(r.top1.clip!)} | ${pct(r.top1.resnet!)} | ${
          signedPct(r.difference)
        } | ${cell(r.index)} |`,
      );
    }
  } else {
    const keys = Object.keys(doc.domains[0]?.models ?? {}).filter((k) => k !== "resnet_1000");
    out.push("Top-1 hits / images, per domain.", "");
    out.push(`| class | ${domains.map((d) => keys.map((k) => `${mdText(d)} ${k}`).join(" | ")).join(" | ")} |`);
    out.push(`| --- | ${domains.map(() => keys.map(() => "---").join(" | ")).join(" | ")} |`);
    const names = new Map(doc.label_set.map((l) => [l.index, l.label]));
    for (const row of doc.per_class) {
      const cells = domains.flatMap((d) =>
        keys.map((k) => (row.domains[d] ? `${row.domains[d]!.hits[k] ?? 0}/${row.domains[d]!.n}` : ""))
      );
      out.push(`| ${mdText(names.get(row.index) ?? "")} (#${row.index}) | ${cells.join(" | ")} |`);
    }
  }
  return out;
}

function pValue(p: number): string {
  return p < 1e-4 ? "< 0.0001" : p.toFixed(4);
}

/** A signed percentage with one decimal; values that round to zero print as +0.0, never -0.0. */
function signedPct(x: number): string {
  const v = pct(x);
  return /^-0\.0$/.test(v) ? "+0.0" : `${x >= 0 ? "+" : ""}${v}`;
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
  out.push(...pairedSection(doc));
  out.push(...robustnessSection(analysis, modelLabels(doc)));
  out.push(...confusionSection(doc, analysis));
  out.push(...perClassSection(doc, analysis));
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

/**
 * Top-1 per domain and model as a dot-and-interval chart (a forest plot): one row per model within each domain,
 * the Wilson interval as a line, the value in its own column at the right, so that no label can touch a mark.
 */
function accuracyChart(doc: CompareDocument): string {
  const keys = Object.keys(doc.domains[0]?.models ?? {});
  const labels = modelLabels(doc);
  const rowH = 22, groupGap = 14, L = 150, R = 90, T = 26, W = 900;
  const H = T + doc.domains.length * (keys.length * rowH + groupGap) + 30;
  const x = (v: number) => L + v * (W - L - R);
  const out = [svgOpen(W, H, "top-1 accuracy per domain and model, with 95 % Wilson intervals")];
  for (const t of [0, 0.2, 0.4, 0.6, 0.8, 1]) {
    out.push(
      `<line x1="${x(t)}" x2="${x(t)}" y1="${T - 6}" y2="${H - 26}" stroke="#e4e4e4"/><text x="${x(t)}" y="${
        H - 10
      }" font-size="12" text-anchor="middle">${t * 100}%</text>`,
    );
  }
  out.push(`<text x="${W - R + 8}" y="${T - 10}" font-size="12" font-weight="bold">top-1</text>`);
  let y = T;
  for (const d of doc.domains) {
    out.push(`<text x="4" y="${y + 14}" font-size="13" font-weight="bold">${esc(d.domain)} (n=${d.n})</text>`);
    keys.forEach((k, i) => {
      const a = d.models[k];
      const cy = y + i * rowH + rowH / 2;
      if (a) {
        const s = seriesStyle(i);
        const tip = `${labels[k] ?? k} on ${d.domain}: ${pct(a.top1)}% (95% CI ${ci(a.top1_ci)}, n=${a.n})`;
        out.push(
          `<line x1="${x(a.top1_ci[0]).toFixed(1)}" x2="${
            x(a.top1_ci[1]).toFixed(1)
          }" y1="${cy}" y2="${cy}" stroke="${s.color}" stroke-width="2.5"><title>${esc(tip)}</title></line>`,
          marker(s.shape, x(a.top1), cy, s.color, tip, 6),
          `<text x="${W - R + 8}" y="${cy + 4}" font-size="12">${pct(a.top1)}</text>`,
        );
      }
    });
    y += keys.length * rowH + groupGap;
  }
  out.push("</svg>");
  return out.join("");
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

function pairedHtml(table: string): string {
  if (!table) return "";
  return `<section id="paired"><h2>Paired comparison</h2><p>Both models see the same images: McNemar's exact test on the images where exactly one is right, and a seeded paired bootstrap interval for the top-1 difference (CLIP − ResNet, label set).</p>${table}</section>`;
}

function robustnessHtml(a: Analysis, doc: CompareDocument): string {
  if (!a.effective_robustness.length) return "";
  const names = modelLabels(doc);
  const panels = a.effective_robustness.map((p) => {
    const rows = p.models.map((m, i) =>
      `<tr><td>${legendItem(i, names[m.key] ?? m.name)}</td><td class="num">${pct(m.x.top1)}</td><td class="num">${
        pct(m.y.top1)
      }</td><td class="num">${m.rho === null ? "–" : signedPct(m.rho)}</td></tr>`
    ).join("");
    const b = p.baseline;
    const f = b ? a.baseline_source.files[b.set] : undefined;
    const base = b && f
      ? `<p>Grey: ${b.line.n} published ImageNet-1k-trained models on ${esc(b.name)} (timm, <code>${
        esc(f.path)
      }</code> at ${
        esc(f.commit.slice(0, 10))
      }, Apache-2.0); solid line: their fit in logit space; dashed: y = x. Their x axis is ${esc(b.reference_axis)}.${
        b.excluded.length ? ` Left out of the fit (0 % or 100 %): ${b.excluded.map(esc).join(", ")}.` : ""
      }</p>`
      : `<p>No published baseline matches the name “${esc(p.domain)}”; dashed: y = x.</p>`;
    return `<h3>${esc(p.domain)} against ${esc(p.reference)}</h3><div class="er"><div>${
      robustnessSvg(p)
    }</div><div><table><tr><th>model</th><th>${esc(p.reference)} %</th><th>${
      esc(p.domain)
    } %</th><th>ρ (points)</th></tr>${rows}</table>${base}${
      p.small ? `<p class="caveat">${esc(SMALL_N).replace(/`(.*?)`/g, "<code>$1</code>")}</p>` : ""
    }</div></div>`;
  }).join("");
  return `<section id="effective-robustness"><h2>Effective robustness</h2><p>Top-1 under each shift against top-1 on the reference domain, both logit-scaled (Taori et al., 2020). ρ: a model's shifted top-1 minus what the baseline predicts from its reference top-1; positive means more robust than ImageNet-trained models of the same accuracy. Hover a mark for its n and interval.</p>${panels}</section>`;
}

const GALLERY_MAX = 40;

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

function perClassHtml(doc: CompareDocument, a: Analysis, fallback: string): string {
  if (!a.per_class.length) return `<section id="per-class"><h2>Per class</h2>${fallback}</section>`;
  const domains = doc.domains.map((d) => d.domain);
  const hits = new Map(doc.per_class.map((r) => [r.index, r]));
  const rows = a.per_class.map((r) => {
    const d = r.difference;
    const tint = d > 0
      ? `rgba(0,114,178,${(0.12 + 0.5 * d).toFixed(2)})`
      : d < 0
      ? `rgba(230,159,0,${(0.12 + 0.5 * -d).toFixed(2)})`
      : "transparent";
    const bar = `<div class="diffbar" title="${signedPct(d)} points"><span class="${
      d >= 0 ? "pos" : "neg"
    }" style="width:${(50 * Math.abs(d)).toFixed(1)}%"></span></div>`;
    const per = domains.map((dm) => {
      const c = hits.get(r.index)?.domains[dm];
      return c ? `${esc(dm)} ${c.hits.clip ?? 0}/${c.hits.resnet ?? 0} of ${c.n}` : "";
    }).filter(Boolean).join("; ");
    return `<tr><td>${esc(r.label)} (#${r.index})</td><td class="num">${r.n}</td><td class="num">${
      pct(r.top1.clip!)
    }</td><td class="num">${pct(r.top1.resnet!)}</td><td class="num" style="background:${tint}">${
      signedPct(d)
    }</td><td>${bar}</td><td><small>${per}</small></td></tr>`;
  }).join("");
  return `<section id="per-class"><h2>Per class</h2><p>Top-1 over all domains, sorted by CLIP − ResNet (label set). Blue, solid bars: CLIP better; orange, hatched: ResNet better. Hits per domain are CLIP / ResNet of n.</p><table><tr><th>class</th><th>n</th><th>CLIP %</th><th>ResNet %</th><th>CLIP − ResNet</th><th></th><th>hits per domain</th></tr>${rows}</table></section>`;
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
.filters button{margin-right:4px}.filters button.on{background:#0072B2;color:#fff}
.legend-item{margin-right:14px;white-space:nowrap}.legend-item svg{vertical-align:-2px}
.er{display:grid;grid-template-columns:minmax(0,3fr) minmax(260px,2fr);gap:16px;align-items:start}
@media (max-width:900px){.er{grid-template-columns:1fr}}
.caveat{background:#fff7e0;border-left:4px solid #E69F00;padding:6px 10px}
table{max-width:100%}td{overflow-wrap:anywhere}.num{text-align:right;font-variant-numeric:tabular-nums}
.diffbar{position:relative;width:120px;height:10px;background:#f2f2f2}.diffbar span{position:absolute;top:0;height:10px}
.diffbar .pos{left:50%;background:#0072B2}.diffbar .neg{right:50%;background:repeating-linear-gradient(45deg,#E69F00 0 3px,#f6d58a 3px 6px)}
.diffbar::after{content:"";position:absolute;left:50%;top:-2px;height:14px;border-left:1px solid #444}
</style></head><body>
<h1>${esc(title(doc))} under distribution shift</h1>
<p id="models">${esc(models)}</p>
<p>${doc.summary.n} images in ${doc.domains.length} domain(s), both models scored on one label set of ${doc.label_set.length} ImageNet classes. CLIP: softmax(${p.logit_scale} · cos) over the label set's prompts; ResNet: its 1000 logits restricted to the label set.</p>
<section id="summary"><h2>Top-1 accuracy per domain</h2><p class="legend">${
    Object.keys(doc.domains[0]?.models ?? {}).map((k, i) => legendItem(i, modelLabels(doc)[k] ?? k)).join(" ")
  } · lines: 95 % Wilson intervals</p>${accuracyChart(doc)}
${tableFromMd("Accuracy per domain")}<ul>${notes}</ul></section>
${pairedHtml(tableFromMd("Paired comparison"))}
${robustnessHtml(analysis, doc)}
<section id="confusions"><h2>Most frequent confusions</h2><p>Wrong top-1 predictions per model and domain; distance: WordNet hypernym edges from the true class up to the nearest ancestor it shares with the prediction.</p>${
    tableFromMd("Where they differ") || "<p>No mistakes.</p>"
  }</section>
${galleriesHtml(doc, analysis, thumbs)}
<section id="like-for-like"><h2>Like-for-like: domains compared on the classes they share</h2>${
    tableFromMd("Like-for-like: domains compared on the classes they share") || "<p>No two domains share a class.</p>"
  }</section>
${perClassHtml(doc, analysis, tableFromMd("Per class"))}
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
