/**
 * The shift report: accuracy per shift and severity for each model, drawn as robustness curves in inline SVG
 * (one small chart per shift, one line per model, severity 0 = the clean images), pivoted tables with the area under
 * each curve, and the contact sheet embedded with its shifts and severities written on it.
 *
 * @module
 */
import type { RgbaImage } from "../image/decode.ts";
import { thumbnail } from "../image/png.ts";
import { wilson } from "../report/metrics.ts";
import { esc, legendItem, marker, seriesStyle, svgOpen } from "../report/svg.ts";

/** Accuracy of one model on one shift at one severity (0 = clean). */
export interface ShiftRow {
  /** The shift ("clean" at severity 0). */
  shift: string;
  /** 0..5. */
  severity: number;
  /** "clip" or "resnet". */
  model: string;
  /** Images scored. */
  n: number;
  /** Top-1 accuracy, 0..1. */
  top1: number;
  /** Top-5 accuracy, 0..1. */
  top5: number;
}

const pct = (v: number) => (100 * v).toFixed(1);

/** The models in first-seen order, so colours and markers stay the same in every chart. */
function modelOrder(rows: readonly ShiftRow[]): string[] {
  return [...new Set(rows.map((r) => r.model))];
}

/**
 * The area under a top-1-versus-severity curve by the trapezoid rule, divided by the severity range, so 1 means
 * perfect at every severity. ImageNet-C-style: the same idea as averaging over severities, on our own shifts.
 *
 * @example
 * ```ts
 * import { severityAuc } from "./report.ts";
 * // 1.0 clean, falling linearly to 0 at severity 5: half the area.
 * if (severityAuc([[0, 1], [1, 0.8], [2, 0.6], [3, 0.4], [4, 0.2], [5, 0]]) !== 0.5) throw new Error();
 * ```
 * @param points [severity, top-1] pairs, any order.
 * @returns The normalised area, or null with fewer than two severities.
 */
export function severityAuc(points: readonly (readonly [number, number])[]): number | null {
  const p = [...points].sort((a, b) => a[0] - b[0]);
  if (p.length < 2) return null;
  let area = 0;
  for (let i = 1; i < p.length; i++) area += ((p[i]![0] - p[i - 1]![0]) * (p[i]![1] + p[i - 1]![1])) / 2;
  const width = p[p.length - 1]![0] - p[0]![0];
  return width > 0 ? Math.round((area / width) * 1e12) / 1e12 : null;
}

/** The [severity, top-1] points of one model on one shift, severity 0 being the clean images. */
function curve(rows: readonly ShiftRow[], model: string, shift: string): ShiftRow[] {
  return rows.filter((r) => r.model === model && (r.shift === shift || r.shift === "clean"))
    .sort((a, b) => a.severity - b.severity);
}

/** Per shift and model, the ImageNet-C-style area under the curve. */
export function shiftAucs(rows: readonly ShiftRow[]): { shift: string; model: string; auc: number }[] {
  const shifts = [...new Set(rows.filter((r) => r.shift !== "clean").map((r) => r.shift))];
  return shifts.flatMap((shift) =>
    modelOrder(rows).flatMap((model) => {
      const auc = severityAuc(curve(rows, model, shift).map((r) => [r.severity, r.top1] as const));
      return auc === null ? [] : [{ shift, model, auc }];
    })
  );
}

/**
 * One chart: top-1 (%) against severity 0..5, one polyline per model, each point with a tooltip giving n and the
 * Wilson interval. It scales with its container.
 *
 * @example
 * ```ts
 * import { curveSvg } from "./report.ts";
 * const svg = curveSvg("blur", [{ model: "clip", points: [[0, 0.5, 4], [1, 0.25, 4]] }]);
 * if (!svg.startsWith("<svg") || !svg.includes("<polyline") || !svg.includes("n=4")) throw new Error(svg);
 * ```
 * @param title The shift.
 * @param lines Per model, [severity, top-1, n] points.
 * @returns SVG markup.
 */
export function curveSvg(title: string, lines: { model: string; points: [number, number, number][] }[]): string {
  const W = 320, H = 210, L = 40, R = 12, T = 24, B = 32;
  const x = (s: number) => L + (s / 5) * (W - L - R);
  const y = (v: number) => T + (1 - v) * (H - T - B);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((v) =>
    `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/><text x="${L - 5}" y="${
      y(v) + 4
    }" font-size="11" text-anchor="end">${v * 100}</text>`
  ).join("");
  const ticks = [0, 1, 2, 3, 4, 5].map((s) =>
    `<text x="${x(s)}" y="${H - B + 15}" font-size="11" text-anchor="middle">${s}</text>`
  ).join("");
  const polys = lines.map((l, i) => {
    const st = seriesStyle(i);
    const pts = l.points.map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const dots = l.points.map(([s, v, n]) => {
      const [lo, hi] = wilson(Math.round(v * n), n);
      return marker(
        st.shape,
        x(s),
        y(v),
        st.color,
        `${l.model}, ${s === 0 ? "clean" : `${title} severity ${s}`}: top-1 ${pct(v)} % (95 % CI ${pct(lo)}–${
          pct(hi)
        }, n=${n})`,
        4,
      );
    }).join("");
    return `<polyline fill="none" stroke="${st.color}" stroke-width="2" points="${pts}"><title>${
      esc(l.model)
    }</title></polyline>${dots}`;
  }).join("");
  return `${svgOpen(W, H, `${title} top-1 by severity`)}<text x="${L}" y="15" font-size="13" font-weight="bold">${
    esc(title)
  }</text>${grid}${ticks}<text x="${(L + W - R) / 2}" y="${
    H - 3
  }" font-size="11" text-anchor="middle">severity</text>${polys}</svg>`;
}

/** Where the contact sheet's cells are, for labelling the embedded copy. */
export interface SheetLayout {
  /** The PNG as a data URI. */
  dataUri: string;
  /** Its size in pixels. */
  width: number;
  height: number;
  /** Cell size and padding, as {@linkcode contactSheet} laid them out. */
  cell: number;
  pad: number;
  /** Row names, top to bottom. */
  rows: string[];
}

/** The contact sheet embedded in an SVG, with each row's shift and each column's severity written on it. */
function sheetSvg(s: SheetLayout): string {
  const LM = 96, TM = 22;
  const W = LM + s.width, H = TM + s.height;
  const cols = Math.round((s.width - s.pad) / (s.cell + s.pad));
  const head = Array.from(
    { length: cols },
    (_, c) =>
      `<text x="${LM + s.pad + c * (s.cell + s.pad) + s.cell / 2}" y="15" font-size="13" text-anchor="middle">${
        c === 0 ? "clean" : `severity ${c}`
      }</text>`,
  ).join("");
  const side = s.rows.map((r, i) =>
    `<text x="${LM - 8}" y="${TM + s.pad + i * (s.cell + s.pad) + s.cell / 2 + 5}" font-size="13" text-anchor="end">${
      esc(r)
    }</text>`
  ).join("");
  return `${
    svgOpen(W, H, "contact sheet: one image under every shift and severity")
  }${head}${side}<image x="${LM}" y="${TM}" width="${s.width}" height="${s.height}" href="${s.dataUri}"/></svg>`;
}

/** Below this many images per condition the report says its curves are indicative only. */
const SMALL_N = 30;

/**
 * The HTML report: curves for every shift, the pivoted tables with each curve's area, and the contact sheet.
 *
 * @param rows All rows.
 * @param meta Lines shown at the top (models, images, seed, precision).
 * @param sheet The contact sheet to embed, or undefined to leave it out.
 * @returns A self-contained HTML page.
 */
export function shiftHtml(rows: readonly ShiftRow[], meta: readonly string[], sheet?: SheetLayout): string {
  const models = modelOrder(rows);
  const shifts = [...new Set(rows.filter((r) => r.shift !== "clean").map((r) => r.shift))];
  const charts = shifts.map((s) =>
    `<figure class="chart">${
      curveSvg(
        s,
        models.map((m) => ({
          model: m,
          points: curve(rows, m, s).map((r) => [r.severity, r.top1, r.n] as [number, number, number]),
        })),
      )
    }</figure>`
  ).join("\n");
  const legend = models.map((m, i) => legendItem(i, m)).join(" ");
  const aucs = shiftAucs(rows);
  const pivots = models.map((m) => {
    const body = shifts.map((s) => {
      const pts = new Map(curve(rows, m, s).map((r) => [r.severity, r]));
      const cells = [0, 1, 2, 3, 4, 5].map((sev) => {
        const r = pts.get(sev);
        return `<td>${r ? pct(r.top1) : "–"}</td>`;
      }).join("");
      const auc = aucs.find((a) => a.model === m && a.shift === s)?.auc;
      return `<tr><th scope="row">${esc(s)}</th>${cells}<td><b>${auc === undefined ? "–" : pct(auc)}</b></td></tr>`;
    }).join("\n");
    return `<h3>${
      esc(m)
    }</h3><table class="pivot"><thead><tr><th>shift</th><th>clean</th><th>1</th><th>2</th><th>3</th><th>4</th><th>5</th><th>AUC</th></tr></thead><tbody>${body}</tbody></table>`;
  }).join("\n");
  const n = Math.min(...rows.map((r) => r.n));
  const caveat = n < SMALL_N
    ? `<p class="caveat">Only ${n} image(s) per condition: each point's 95 % interval is wide (hover a point to see it), so read these curves as a demonstration. Run on more images (<code>--limit</code>, or a larger folder) for figures to rely on.</p>`
    : "";
  const table = rows.map((r) =>
    `<tr><td>${esc(r.shift)}</td><td>${r.severity}</td><td>${esc(r.model)}</td><td>${r.n}</td><td>${
      pct(r.top1)
    }</td><td>${pct(r.top5)}</td></tr>`
  ).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clipcmp shift report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}.chart{margin:0}
table{border-collapse:collapse;margin:8px 0;max-width:100%}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th[scope=row]{text-align:left}.legend-item{margin-right:14px;white-space:nowrap}.legend-item svg{vertical-align:-2px}
.caveat{background:#fff7e0;border-left:4px solid #E69F00;padding:6px 10px}details{margin:12px 0}</style></head>
<body><h1>Robustness curves</h1>
${meta.map((m) => `<p>${esc(m)}</p>`).join("\n")}
${caveat}
<section id="curves"><h2>Top-1 by severity</h2><p>Top-1 accuracy (%) by severity; severity 0 is the clean images. ${legend}</p>
<div class="charts">
${charts}
</div></section>
<section id="pivot"><h2>Top-1 per shift and severity</h2><p>Top-1 (%) per model. AUC: the area under the top-1-versus-severity curve from clean to severity 5 (trapezoid rule, divided by 5; 100 = perfect throughout), ImageNet-C-style: our shifts are rendered here and are not ImageNet-C's files, so these are not mCE figures.</p>
${pivots}</section>
${
    sheet
      ? `<section id="contact-sheet"><h2>Contact sheet</h2><p>The first image under every shift and severity (also <code>contact-sheet.png</code>).</p>${
        sheetSvg(sheet)
      }</section>`
      : ""
  }
<details id="all-figures"><summary>All figures (top-1 and top-5)</summary>
<table><thead><tr><th>shift</th><th>severity</th><th>model</th><th>n</th><th>top-1 %</th><th>top-5 %</th></tr></thead>
<tbody>
${table}
</tbody></table></details>
</body></html>
`;
}

/** The white border around and between the contact sheet's cells, in pixels. */
export const SHEET_PAD = 4;

/**
 * Lays out images in a grid of `cell`-pixel thumbnails on white, rows as given.
 *
 * @param rows Rows of images.
 * @param cell Thumbnail size (longest side).
 * @returns The sheet.
 */
export function contactSheet(rows: readonly (readonly RgbaImage[])[], cell: number): RgbaImage {
  const pad = SHEET_PAD;
  const cols = Math.max(...rows.map((r) => r.length));
  const width = cols * (cell + pad) + pad, height = rows.length * (cell + pad) + pad;
  const data = new Uint8Array(width * height * 4).fill(255);
  rows.forEach((row, ri) =>
    row.forEach((img, ci) => {
      const t = thumbnail(img, cell);
      const ox = pad + ci * (cell + pad) + Math.floor((cell - t.width) / 2);
      const oy = pad + ri * (cell + pad) + Math.floor((cell - t.height) / 2);
      for (let y = 0; y < t.height; y++) {
        for (let x = 0; x < t.width; x++) {
          const s = (y * t.width + x) * 4, d = ((oy + y) * width + ox + x) * 4;
          data.set([t.data[s]!, t.data[s + 1]!, t.data[s + 2]!, 255], d);
        }
      }
    })
  );
  return { width, height, data };
}
