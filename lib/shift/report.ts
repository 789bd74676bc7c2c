/**
 * The shift report: accuracy per shift and severity for each model, drawn as robustness curves in inline SVG
 * (one small chart per shift, one line per model, severity 0 = the clean images), plus a contact sheet.
 *
 * @module
 */
import type { RgbaImage } from "../image/decode.ts";
import { thumbnail } from "../image/png.ts";

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

const COLORS: Record<string, string> = { clip: "#1f77b4", resnet: "#d62728" };
const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);

/**
 * One chart: top-1 (%) against severity 0..5, one polyline per model.
 *
 * @example
 * ```ts
 * import { curveSvg } from "./report.ts";
 * const svg = curveSvg("blur", [{ model: "clip", points: [[0, 0.5], [1, 0.25]] }]);
 * if (!svg.startsWith("<svg") || !svg.includes("<polyline")) throw new Error(svg);
 * ```
 * @param title The shift.
 * @param lines Per model, [severity, top-1] points.
 * @returns SVG markup.
 */
export function curveSvg(title: string, lines: { model: string; points: [number, number][] }[]): string {
  const W = 260, H = 180, L = 36, R = 10, T = 22, B = 28;
  const x = (s: number) => L + (s / 5) * (W - L - R);
  const y = (v: number) => T + (1 - v) * (H - T - B);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((v) =>
    `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${L - 4}" y="${
      y(v) + 4
    }" font-size="10" text-anchor="end">${v * 100}</text>`
  ).join("");
  const ticks = [0, 1, 2, 3, 4, 5].map((s) =>
    `<text x="${x(s)}" y="${H - B + 14}" font-size="10" text-anchor="middle">${s}</text>`
  ).join("");
  const polys = lines.map((l) => {
    const pts = l.points.map(([s, v]) => `${x(s).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const color = COLORS[l.model] ?? "#555";
    const dots = l.points.map(([s, v]) =>
      `<circle cx="${x(s).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${color}"/>`
    )
      .join("");
    return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"><title>${
      esc(l.model)
    }</title></polyline>${dots}`;
  }).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${
    esc(title)
  } top-1 by severity"><text x="${L}" y="14" font-size="12" font-weight="bold">${
    esc(title)
  }</text>${grid}${ticks}<text x="${(L + W - R) / 2}" y="${
    H - 2
  }" font-size="10" text-anchor="middle">severity</text>${polys}</svg>`;
}

/**
 * The HTML report: curves for every shift, then the table.
 *
 * @param rows All rows.
 * @param meta Lines shown at the top (models, images, seed, precision).
 * @returns A self-contained HTML page.
 */
export function shiftHtml(rows: readonly ShiftRow[], meta: readonly string[]): string {
  const models = [...new Set(rows.map((r) => r.model))];
  const shifts = [...new Set(rows.filter((r) => r.shift !== "clean").map((r) => r.shift))];
  const charts = shifts.map((s) =>
    curveSvg(
      s,
      models.map((m) => ({
        model: m,
        points: rows.filter((r) => r.model === m && (r.shift === s || r.shift === "clean"))
          .sort((a, b) => a.severity - b.severity).map((r) => [r.severity, r.top1] as [number, number]),
      })),
    )
  ).join("\n");
  const legend = models.map((m) => `<span style="color:${COLORS[m] ?? "#555"}">&#9632; ${esc(m)}</span>`).join(" ");
  const table = rows.map((r) =>
    `<tr><td>${esc(r.shift)}</td><td>${r.severity}</td><td>${esc(r.model)}</td><td>${r.n}</td><td>${
      (100 * r.top1).toFixed(1)
    }</td><td>${(100 * r.top5).toFixed(1)}</td></tr>`
  ).join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clipcmp shift report</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}.charts{display:flex;flex-wrap:wrap;gap:12px}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}</style></head>
<body><h1>Robustness curves</h1>
${meta.map((m) => `<p>${esc(m)}</p>`).join("\n")}
<p>Top-1 accuracy (%) by severity; severity 0 is the clean images. ${legend}</p>
<div class="charts">
${charts}
</div>
<h2>All figures</h2>
<table><thead><tr><th>shift</th><th>severity</th><th>model</th><th>n</th><th>top-1 %</th><th>top-5 %</th></tr></thead>
<tbody>
${table}
</tbody></table>
<p>Contact sheet: <a href="contact-sheet.png">contact-sheet.png</a> (rows: shifts; columns: clean, severities 1-5).</p>
</body></html>
`;
}

/**
 * Lays out images in a grid of `cell`-pixel thumbnails on white, rows as given.
 *
 * @param rows Rows of images.
 * @param cell Thumbnail size (longest side).
 * @returns The sheet.
 */
export function contactSheet(rows: readonly (readonly RgbaImage[])[], cell: number): RgbaImage {
  const pad = 4;
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
