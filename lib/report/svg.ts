/**
 * Chart building blocks shared by the reports: a colour-blind-safe palette (Okabe & Ito) whose colours also differ
 * in lightness, one marker shape per series so that greyscale prints stay readable, and SVG that scales with the
 * page (a `viewBox`, `width="100%"`). Every mark carries a `<title>`, which browsers show as a tooltip.
 *
 * @example
 * ```ts
 * import { marker, seriesStyle, svgOpen } from "./svg.ts";
 * const s = seriesStyle(1);
 * const svg = `${svgOpen(200, 100, "demo")}${marker(s.shape, 50, 50, s.color, "n=3")}</svg>`;
 * if (!svg.includes('viewBox="0 0 200 100"') || !svg.includes("<title>n=3</title>")) throw new Error(svg);
 * ```
 *
 * @module
 */

/** Okabe & Ito's palette, ordered so that neighbours differ in lightness too. */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000"] as const;

/** Marker shapes, one per series. */
export type Shape = "circle" | "square" | "triangle" | "diamond" | "cross" | "star";
const SHAPES: Shape[] = ["circle", "square", "triangle", "diamond", "cross", "star"];

/** The colour, shape and bar pattern of the i-th series. */
export function seriesStyle(i: number): { color: string; shape: Shape; pattern: string } {
  return {
    color: PALETTE[i % PALETTE.length]!,
    shape: SHAPES[i % SHAPES.length]!,
    pattern: `pat${i % SHAPES.length}`,
  };
}

/** Escapes text for SVG and HTML. */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The opening tag of a chart that fills its container's width and keeps its aspect ratio.
 *
 * @param w Width in user units.
 * @param h Height in user units.
 * @param label The accessible name.
 * @returns The tag.
 */
export function svgOpen(w: number, h: number, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}" width="100%" preserveAspectRatio="xMidYMid meet" style="max-width:100%;height:auto;display:block" role="img" aria-label="${
    esc(label)
  }" font-family="system-ui,sans-serif">`;
}

/**
 * Hatch patterns for bars, one per series (solid, diagonal, dots, ...), to be placed once inside an `<svg>`.
 *
 * @param n How many series.
 * @returns A `<defs>` element.
 */
export function patternDefs(n: number): string {
  const defs: string[] = [];
  for (let i = 0; i < n; i++) {
    const { color, pattern } = seriesStyle(i);
    const k = i % SHAPES.length;
    const overlay = [
      "",
      `<path d="M0,6 L6,0" stroke="#fff" stroke-width="1.6"/>`,
      `<circle cx="3" cy="3" r="1.3" fill="#fff"/>`,
      `<path d="M0,3 H6" stroke="#fff" stroke-width="1.4"/>`,
      `<path d="M3,0 V6" stroke="#fff" stroke-width="1.4"/>`,
      `<path d="M0,0 L6,6" stroke="#fff" stroke-width="1.6"/>`,
    ][k];
    defs.push(
      `<pattern id="${pattern}" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="${color}"/>${overlay}</pattern>`,
    );
  }
  return `<defs>${defs.join("")}</defs>`;
}

/**
 * A marker centred on (x, y).
 *
 * @param shape The shape.
 * @param x Centre x.
 * @param y Centre y.
 * @param color Fill colour.
 * @param tooltip Text for the `<title>`.
 * @param r Radius.
 * @returns SVG markup.
 */
export function marker(shape: Shape, x: number, y: number, color: string, tooltip: string, r = 5): string {
  const f = (v: number) => v.toFixed(1);
  const t = `<title>${esc(tooltip)}</title>`;
  const attrs = `fill="${color}" stroke="#fff" stroke-width="1"`;
  switch (shape) {
    case "circle":
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${r}" ${attrs}>${t}</circle>`;
    case "square":
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${2 * r}" height="${2 * r}" ${attrs}>${t}</rect>`;
    case "triangle":
      return `<path d="M${f(x)},${f(y - r * 1.2)} L${f(x + r * 1.1)},${f(y + r * 0.8)} L${f(x - r * 1.1)},${
        f(y + r * 0.8)
      } Z" ${attrs}>${t}</path>`;
    case "diamond":
      return `<path d="M${f(x)},${f(y - r * 1.3)} L${f(x + r * 1.1)},${f(y)} L${f(x)},${f(y + r * 1.3)} L${
        f(x - r * 1.1)
      },${f(y)} Z" ${attrs}>${t}</path>`;
    case "cross":
      return `<path d="M${f(x - r)},${f(y - r)} L${f(x + r)},${f(y + r)} M${f(x + r)},${f(y - r)} L${f(x - r)},${
        f(y + r)
      }" stroke="${color}" stroke-width="2.5">${t}</path>`;
    case "star": {
      const pts: string[] = [];
      for (let i = 0; i < 10; i++) {
        const a = -Math.PI / 2 + (i * Math.PI) / 5, rr = i % 2 ? r * 0.5 : r * 1.3;
        pts.push(`${f(x + rr * Math.cos(a))},${f(y + rr * Math.sin(a))}`);
      }
      return `<path d="M${pts.join(" L")} Z" ${attrs}>${t}</path>`;
    }
  }
}

/**
 * A legend entry as inline HTML: the series' marker in a tiny SVG, then its name.
 *
 * @param i The series index.
 * @param name Its name.
 * @returns HTML.
 */
export function legendItem(i: number, name: string): string {
  const s = seriesStyle(i);
  return `<span class="legend-item"><svg viewBox="0 0 14 14" width="14" height="14" aria-hidden="true">${
    marker(s.shape, 7, 7, s.color, name, 4.5)
  }</svg> ${esc(name)}</span>`;
}
