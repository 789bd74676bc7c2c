/**
 * Effective robustness (Taori et al., 2020, with imagenet-testbed's conventions): each shifted domain against the
 * reference domain, both axes logit-scaled, with a baseline fitted in logit space through published ImageNet-1k
 * models (`baselines.ts`), the y = x line, and each of our models with its Wilson intervals and its effective
 * robustness ρ: its shifted top-1 minus the baseline's prediction from its in-distribution top-1.
 *
 * @example
 * ```ts
 * import { robustnessPanels } from "./robustness.ts";
 * const acc = (top1: number, n: number) => ({ top1, n, top1_ci: [top1 - 0.1, top1 + 0.1] as [number, number] });
 * const [p] = robustnessPanels([
 *   { domain: "photo", models: { clip: acc(0.6, 100) } },
 *   { domain: "sketch", models: { clip: acc(0.4, 100) } },
 * ], "photo", { clip: "CLIP" });
 * if (!p || p.baseline?.set !== "sketch" || !(p.models[0]!.rho! > 0.1)) throw new Error(JSON.stringify(p));
 * ```
 *
 * @module
 */
import {
  BASELINE_NAMES,
  BASELINE_REFERENCE,
  baselineFor,
  type BaselinePoint,
  baselinePoints,
  type BaselineSet,
} from "./baselines.ts";
import { effectiveRobustness, logit, logitFit, type LogitLine } from "./stats.ts";
import { esc, marker, seriesStyle, svgOpen } from "./svg.ts";

/** The part of an accuracy this analysis reads. */
export interface TopOne {
  /** Top-1, 0..1. */
  top1: number;
  /** Its 95 % interval. */
  top1_ci: [number, number];
  /** Images. */
  n: number;
}

/** One model on one panel. */
export interface RobustnessModel {
  /** The model's key in the document. */
  key: string;
  /** Its display name. */
  name: string;
  /** Top-1 on the reference domain. */
  x: TopOne;
  /** Top-1 on the shifted domain. */
  y: TopOne;
  /** Effective robustness in accuracy units, or null without a baseline. */
  rho: number | null;
}

/** One shifted domain against the reference. */
export interface RobustnessPanel {
  /** The shifted domain or dataset. */
  domain: string;
  /** The reference (in-distribution) domain. */
  reference: string;
  /** The published baseline matched by name, or null when none matches. */
  baseline: {
    set: BaselineSet;
    name: string;
    /** What the published x axis measured. */
    reference_axis: string;
    line: LogitLine;
    points: BaselinePoint[];
    /** Points left out of the fit because they sit at 0 % or 100 %, where logit is unbounded. */
    excluded: string[];
  } | null;
  /** Our models, in document order. */
  models: RobustnessModel[];
  /** True when any count behind a point is below `minN`. */
  small: boolean;
}

/**
 * The panels: one per non-reference domain, for every model scored on both.
 *
 * @param domains Per domain, accuracies by model key.
 * @param reference The in-distribution domain.
 * @param names Display names by model key.
 * @param minN Below this many images a panel is flagged small.
 * @returns The panels, in domain order.
 */
export function robustnessPanels(
  domains: readonly { domain: string; models: Readonly<Record<string, TopOne>> }[],
  reference: string,
  names: Readonly<Record<string, string>>,
  minN = 30,
): RobustnessPanel[] {
  const ref = domains.find((d) => d.domain === reference);
  if (!ref) return [];
  return domains.filter((d) => d !== ref).map((d) => {
    const set = baselineFor(d.domain);
    let baseline: RobustnessPanel["baseline"] = null;
    if (set) {
      const points = baselinePoints(set);
      const inside = points.filter((p) => p.x > 0 && p.x < 1 && p.y > 0 && p.y < 1);
      baseline = {
        set,
        name: BASELINE_NAMES[set],
        reference_axis: BASELINE_REFERENCE[set],
        line: logitFit(inside),
        points,
        excluded: points.filter((p) => !inside.includes(p)).map((p) => p.model),
      };
    }
    const models = Object.keys(d.models).filter((k) => ref.models[k]).map((key) => {
      const x = ref.models[key]!, y = d.models[key]!;
      return {
        key,
        name: names[key] ?? key,
        x,
        y,
        rho: baseline ? effectiveRobustness(baseline.line, x.top1, y.top1) : null,
      };
    });
    return { domain: d.domain, reference, baseline, models, small: models.some((m) => m.x.n < minN || m.y.n < minN) };
  });
}

const pct = (v: number) => (100 * v).toFixed(1);
const TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99];
const LO = 0.003, HI = 0.997;

/**
 * The scatter for one panel: logit axes, published models in grey, the baseline fit, y = x, and our models with
 * their intervals as crosses. Names live in the legend beside the chart, so no label can collide with a mark.
 *
 * @param panel The panel.
 * @returns SVG markup.
 */
export function robustnessSvg(panel: RobustnessPanel): string {
  const W = 720, H = 460, L = 64, R = 16, T = 16, B = 52;
  const clampL = (v: number) => logit(Math.min(HI, Math.max(LO, v)));
  const xs: number[] = [], ys: number[] = [];
  for (const p of panel.baseline?.points ?? []) xs.push(clampL(p.x)), ys.push(clampL(p.y));
  for (const m of panel.models) {
    xs.push(clampL(m.x.top1_ci[0]), clampL(m.x.top1_ci[1]));
    ys.push(clampL(m.y.top1_ci[0]), clampL(m.y.top1_ci[1]));
  }
  const span = (v: number[]): [number, number] => {
    const lo = Math.min(...v), hi = Math.max(...v), pad = Math.max(0.25, (hi - lo) * 0.06);
    return [lo - pad, hi + pad];
  };
  const [x0, x1] = span(xs), [y0, y1] = span(ys);
  const px = (l: number) => L + ((l - x0) / (x1 - x0)) * (W - L - R);
  const py = (l: number) => H - B - ((l - y0) / (y1 - y0)) * (H - T - B);
  const out: string[] = [svgOpen(W, H, `effective robustness: ${panel.domain} against ${panel.reference}`)];
  out.push(
    `<clipPath id="plot-${esc(panel.domain)}"><rect x="${L}" y="${T}" width="${W - L - R}" height="${
      H - T - B
    }"/></clipPath>`,
  );
  out.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="#fff" stroke="#999"/>`);
  const ticks = (lo: number, hi: number) => {
    const t = TICKS.filter((v) => logit(v) >= lo && logit(v) <= hi);
    return t.length > 9 ? t.filter((_, i) => i % 2 === 0) : t;
  };
  for (const v of ticks(x0, x1)) {
    const x = px(logit(v));
    out.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`);
    out.push(
      `<text x="${x.toFixed(1)}" y="${H - B + 16}" font-size="12" text-anchor="middle">${+(100 * v).toFixed(0)}</text>`,
    );
  }
  for (const v of ticks(y0, y1)) {
    const y = py(logit(v));
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/>`);
    out.push(
      `<text x="${L - 6}" y="${(y + 4).toFixed(1)}" font-size="12" text-anchor="end">${+(100 * v).toFixed(0)}</text>`,
    );
  }
  out.push(
    `<text x="${(L + W - R) / 2}" y="${H - 12}" font-size="13" text-anchor="middle">top-1 on ${
      esc(panel.reference)
    } (%, logit scale)</text>`,
  );
  out.push(
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" font-size="13" text-anchor="middle">top-1 on ${
      esc(panel.domain)
    } (%, logit scale)</text>`,
  );
  const clip = `clip-path="url(#plot-${esc(panel.domain)})"`;
  const lo = Math.min(x0, y0), hi = Math.max(x1, y1);
  out.push(
    `<line ${clip} x1="${px(lo).toFixed(1)}" y1="${py(lo).toFixed(1)}" x2="${px(hi).toFixed(1)}" y2="${
      py(hi).toFixed(1)
    }" stroke="#777" stroke-dasharray="5 4"><title>y = x (no drop under the shift)</title></line>`,
  );
  const b = panel.baseline;
  if (b) {
    const f = (l: number) => b.line.slope * l + b.line.intercept;
    out.push(
      `<line ${clip} x1="${px(x0).toFixed(1)}" y1="${py(f(x0)).toFixed(1)}" x2="${px(x1).toFixed(1)}" y2="${
        py(f(x1)).toFixed(1)
      }" stroke="#444" stroke-width="2"><title>baseline fit over ${b.line.n} published ImageNet-1k models on ${
        esc(b.name)
      }: logit(y) = ${b.line.slope.toFixed(3)} logit(x) ${b.line.intercept >= 0 ? "+" : "−"} ${
        Math.abs(b.line.intercept).toFixed(3)
      }</title></line>`,
    );
    for (const p of b.points) {
      out.push(
        `<circle ${clip} cx="${px(clampL(p.x)).toFixed(1)}" cy="${
          py(clampL(p.y)).toFixed(1)
        }" r="3.5" fill="#bbb" stroke="#888"><title>${esc(p.model)} (published): ${pct(p.x)} → ${
          pct(p.y)
        } %</title></circle>`,
      );
    }
  }
  panel.models.forEach((m, i) => {
    const s = seriesStyle(i);
    const cx = px(clampL(m.x.top1)), cy = py(clampL(m.y.top1));
    const tip = `${m.name}: ${panel.reference} ${pct(m.x.top1)} % (95 % CI ${pct(m.x.top1_ci[0])}–${
      pct(m.x.top1_ci[1])
    }, n=${m.x.n}), ${panel.domain} ${pct(m.y.top1)} % (95 % CI ${pct(m.y.top1_ci[0])}–${
      pct(m.y.top1_ci[1])
    }, n=${m.y.n})${m.rho === null ? "" : `; ρ = ${m.rho >= 0 ? "+" : ""}${pct(m.rho)} points`}`;
    out.push(
      `<g ${clip}><line x1="${px(clampL(m.x.top1_ci[0])).toFixed(1)}" x2="${
        px(clampL(m.x.top1_ci[1])).toFixed(1)
      }" y1="${cy.toFixed(1)}" y2="${cy.toFixed(1)}" stroke="${s.color}" stroke-width="1.5"/><line x1="${
        cx.toFixed(1)
      }" x2="${cx.toFixed(1)}" y1="${py(clampL(m.y.top1_ci[0])).toFixed(1)}" y2="${
        py(clampL(m.y.top1_ci[1])).toFixed(1)
      }" stroke="${s.color}" stroke-width="1.5"/>${marker(s.shape, cx, cy, s.color, tip, 6)}</g>`,
    );
  });
  out.push("</svg>");
  return out.join("");
}
