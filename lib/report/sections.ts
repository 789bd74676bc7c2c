/**
 * The report sections that compare and eval share, as Markdown lines and HTML: accuracy chart, paired tests,
 * effective robustness, confusions and the per-class ranking. Inputs are domain summaries and analyses, not a
 * particular task's document, so both reports render them the same way.
 *
 * @example
 * ```ts
 * import { signedPct } from "./sections.ts";
 * if (signedPct(-0.0001) !== "+0.0" || signedPct(0.123) !== "+12.3") throw new Error();
 * ```
 *
 * @module
 */
import { mdText, mdUnescape } from "./escape.ts";
import type { Accuracy, ClassRow, DomainSummary } from "./metrics.ts";
import type { Analysis } from "./analysis.ts";
import { esc, legendItem, marker, seriesStyle, svgOpen } from "./svg.ts";
import { robustnessSvg } from "./robustness.ts";

export const pct = (x: number) => `${(100 * x).toFixed(1)}`;

export const ci = (a: [number, number]) => `${pct(a[0])}–${pct(a[1])}`;

export function accRow(name: string, a: Accuracy): string {
  const sev = a.mistake_severity === null ? "–" : a.mistake_severity.toFixed(2);
  return `| ${name} | ${a.n} | ${pct(a.top1)} | ${ci(a.top1_ci)} | ${pct(a.top5)} | ${
    pct(a.mean_per_class_recall)
  } | ${sev} |`;
}

export function conclusion(d: DomainSummary): string {
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

/** How many images a gallery of disagreements shows (the rest are counted). */
export const GALLERY_MAX = 40;

export const SMALL_N =
  "Small samples: below 30 images per domain these points carry wide intervals; the embedded sets show the method, and `deno task eval` on full datasets gives the real figures.";

export function pairedSection(a: Analysis, names: Readonly<Record<string, string>>): string[] {
  if (!a.pairs.length) return [];
  const out = ["## Paired comparison", ""];
  out.push(
    "Both models see the same images, so they are compared pairwise: McNemar's exact test on the images where exactly one is right, and a seeded paired bootstrap interval for the top-1 difference (first − second, label set).",
    "",
    "| domain | first − second | n | only first right | only second right | McNemar p | difference | bootstrap 95 % CI | verdict |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const pr of a.pairs) {
    const verdict = pr.n < 30 ? "too few images" : pr.mcnemar.p < 0.05 ? "differ at 5 %" : "not significant";
    out.push(
      `| ${mdText(pr.domain)} | ${mdText(names[pr.a] ?? pr.a)} − ${
        mdText(names[pr.b] ?? pr.b)
      } | ${pr.n} | ${pr.mcnemar.b} | ${pr.mcnemar.c} | ${pValue(pr.mcnemar.p)} | ${
        signedPct(pr.bootstrap.difference)
      } | ${signedPct(pr.bootstrap.ci[0])} to ${signedPct(pr.bootstrap.ci[1])} | ${verdict} |`,
    );
  }
  const bs = a.pairs[0]!.bootstrap;
  out.push("", `Bootstrap: ${bs.resamples} resamples of the images, seed ${bs.seed}, percentile interval.`, "");
  return out;
}

export function robustnessSection(a: Analysis, names: Readonly<Record<string, string>>): string[] {
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

export function confusionSection(
  domains: readonly DomainSummary[],
  names: Readonly<Record<string, string>>,
  a: Analysis,
  galleriesShown: boolean,
): string[] {
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
  if (domains.some((d) => d.models.clip && d.models.resnet)) {
    out.push(
      `### One right, the other wrong`,
      "",
      `CLIP right and ResNet wrong (top-1): ${a.galleries.clip_only.length} image(s); ResNet right and CLIP wrong: ${a.galleries.resnet_only.length}.${
        galleriesShown ? " The HTML report shows them with both top-5s." : ""
      }`,
      "",
    );
  }
  return out;
}

export function perClassSection(
  domainList: readonly DomainSummary[],
  perClassRows: readonly ClassRow[],
  labelSet: readonly { label: string; index: number }[],
  a: Analysis,
  names: Readonly<Record<string, string>> = {},
): string[] {
  const out = ["## Per class", ""];
  const domains = domainList.map((d) => d.domain);
  const hits = new Map(perClassRows.map((r) => [r.index, r]));
  const models = [...new Set(a.per_class.flatMap((r) => Object.keys(r.top1)))];
  const cell = (index: number) =>
    domains.map((d) => {
      const r = hits.get(index)?.domains[d];
      return r ? `${mdText(d)} ${models.map((m) => r.hits[m] ?? 0).join("/")} of ${r.n}` : "";
    }).filter(Boolean).join("; ");
  if (a.per_class.length) {
    out.push(
      `Top-1 over all domains per class, sorted by CLIP − ResNet (${mdText(names.clip ?? "clip")} − ${
        mdText(names.resnet ?? "resnet")
      }, label set); the last column gives each model's hits (in column order) of the images per domain.`,
      "",
      `| class | n | ${
        models.map((m) => `${mdText(names[m] ?? m)} top-1`).join(" | ")
      } | CLIP − ResNet | hits per domain |`,
      `| --- | --- | ${models.map(() => "---").join(" | ")} | --- | --- |`,
    );
    for (const r of a.per_class) {
      out.push(
        `| ${mdText(r.label)} (#${r.index}) | ${r.n} | ${
          models.map((m) => r.top1[m] === undefined ? "–" : pct(r.top1[m]!)).join(" | ")
        } | ${r.difference === null ? "–" : signedPct(r.difference)} | ${cell(r.index)} |`,
      );
    }
  } else {
    const keys = Object.keys(domainList[0]?.models ?? {}).filter((k) => k !== "resnet_1000");
    out.push("Top-1 hits / images, per domain.", "");
    out.push(`| class | ${domains.map((d) => keys.map((k) => `${mdText(d)} ${k}`).join(" | ")).join(" | ")} |`);
    out.push(`| --- | ${domains.map(() => keys.map(() => "---").join(" | ")).join(" | ")} |`);
    const names = new Map(labelSet.map((l) => [l.index, l.label]));
    for (const row of perClassRows) {
      const cells = domains.flatMap((d) =>
        keys.map((k) => (row.domains[d] ? `${row.domains[d]!.hits[k] ?? 0}/${row.domains[d]!.n}` : ""))
      );
      out.push(`| ${mdText(names.get(row.index) ?? "")} (#${row.index}) | ${cells.join(" | ")} |`);
    }
  }
  return out;
}

export function pValue(p: number): string {
  return p < 1e-4 ? "< 0.0001" : p.toFixed(4);
}

/** A signed percentage with one decimal; values that round to zero print as +0.0, never -0.0. */
export function signedPct(x: number): string {
  const v = pct(x);
  return /^-0\.0$/.test(v) ? "+0.0" : `${x >= 0 ? "+" : ""}${v}`;
}

/**
 * Top-1 per domain and model as a dot-and-interval chart (a forest plot): one row per model within each domain,
 * the Wilson interval as a line, the value in its own column at the right, so that no label can touch a mark.
 */
export function accuracyChart(domains: readonly DomainSummary[], labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(domains[0]?.models ?? {});
  const rowH = 22, groupGap = 14, L = 150, R = 90, T = 26, W = 900;
  const H = T + domains.length * (keys.length * rowH + groupGap) + 30;
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
  for (const d of domains) {
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

export function pairedHtml(table: string): string {
  if (!table) return "";
  return `<section id="paired"><h2>Paired comparison</h2><p>Both models see the same images: McNemar's exact test on the images where exactly one is right, and a seeded paired bootstrap interval for the top-1 difference (first − second, label set), for every CLIP model against every ResNet.</p>${table}</section>`;
}

export function robustnessHtml(a: Analysis, names: Readonly<Record<string, string>>): string {
  if (!a.effective_robustness.length) return "";
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

export function perClassHtml(
  domainList: readonly DomainSummary[],
  perClassRows: readonly ClassRow[],
  a: Analysis,
  fallback: string,
  names: Readonly<Record<string, string>> = {},
): string {
  if (!a.per_class.length) return `<section id="per-class"><h2>Per class</h2>${fallback}</section>`;
  const domains = domainList.map((d) => d.domain);
  const hits = new Map(perClassRows.map((r) => [r.index, r]));
  const models = [...new Set(a.per_class.flatMap((r) => Object.keys(r.top1)))];
  const rows = a.per_class.map((r) => {
    const d = r.difference ?? 0;
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
      return c ? `${esc(dm)} ${models.map((m) => c.hits[m] ?? 0).join("/")} of ${c.n}` : "";
    }).filter(Boolean).join("; ");
    return `<tr><td>${esc(r.label)} (#${r.index})</td><td class="num">${r.n}</td>${
      models.map((m) => `<td class="num">${r.top1[m] === undefined ? "–" : pct(r.top1[m]!)}</td>`).join("")
    }<td class="num" style="background:${r.difference === null ? "transparent" : tint}">${
      r.difference === null ? "–" : signedPct(d)
    }</td><td>${r.difference === null ? "" : bar}</td><td><small>${per}</small></td></tr>`;
  }).join("");
  return `<section id="per-class"><h2>Per class</h2><p>Top-1 over all domains, sorted by CLIP − ResNet (${
    esc(names.clip ?? "clip")
  } − ${
    esc(names.resnet ?? "resnet")
  }, label set). Blue, solid bars: CLIP better; orange, hatched: ResNet better. Hits per domain are each model's, in column order, of n.</p><table><tr><th>class</th><th>n</th>${
    models.map((m) => `<th>${esc(names[m] ?? m)} %</th>`).join("")
  }<th>CLIP − ResNet</th><th></th><th>hits per domain</th></tr>${rows}</table></section>`;
}

/**
 * The first Markdown table under `## section` (up to the next `## ` heading), as an HTML table.
 *
 * @param md The Markdown.
 * @param section The heading's text.
 * @returns HTML, or "" when the section is missing or has no table.
 */
export function tableFromMarkdown(md: string, section: string): string {
  const lines = md.split("\n");
  const start = lines.findIndex((l) => l === `## ${section}`);
  if (start < 0) return "";
  const rows = lines.slice(start + 1).filter((l, i, arr) =>
    l.startsWith("|") && arr.slice(0, i).every((x) => !x.startsWith("## "))
  );
  if (!rows.length) return "";
  return `<table>${
    rows.filter((l) => !/^\| ---/.test(l)).map((l, i) => {
      const cells = l.split(/(?<!\\)\|/).slice(1, -1).map((c) =>
        esc(mdUnescape(c.trim())).replace(/\*\*(.*?)\*\*/g, "<b>$1</b>")
      );
      const tag = i === 0 ? "th" : "td";
      return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join("")}</tr>`;
    }).join("")
  }</table>`;
}

/** The stylesheet both HTML reports share. */
export const REPORT_CSS =
  `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
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
`;
