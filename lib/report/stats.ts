/**
 * Paired statistics for two models scored on the same images, and the logit-space baseline fit of effective
 * robustness (Taori et al. 2020):
 *
 * - {@linkcode mcnemarExact}: McNemar's exact test on the discordant pairs (images where exactly one model is right),
 *   the two-sided binomial test of b against Binomial(b + c, 1/2);
 * - {@linkcode pairedBootstrap}: a seeded percentile bootstrap interval for the top-1 difference, resampling images
 *   (both models' outcomes together, so the pairing is kept);
 * - {@linkcode logitFit} and {@linkcode effectiveRobustness}: a least-squares line through (logit x, logit y) over
 *   baseline models, and a model's distance above it in accuracy units.
 *
 * @module
 */

import { seededRandom } from "../math/random.ts";

/** McNemar's exact test result. */
export interface McNemar {
  /** Images where the first model is right and the second wrong. */
  b: number;
  /** Images where the second model is right and the first wrong. */
  c: number;
  /** The two-sided exact p-value (1 when there are no discordant pairs). */
  p: number;
}

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
  return s;
}

/**
 * McNemar's exact test: p = min(1, 2 * P[X <= min(b, c)]) for X ~ Binomial(b + c, 1/2).
 *
 * @example
 * ```ts
 * import { mcnemarExact } from "./stats.ts";
 * // b = 1, c = 5: 2 * (1 + 6) / 64 = 0.21875
 * if (Math.abs(mcnemarExact(1, 5).p - 0.21875) > 1e-12) throw new Error();
 * ```
 * @param b Discordant pairs where the first model is right.
 * @param c Discordant pairs where the second model is right.
 * @returns The counts and the p-value.
 */
export function mcnemarExact(b: number, c: number): McNemar {
  for (const [name, v] of [["b", b], ["c", c]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`mcnemarExact: ${name} must be a count, got ${v}`);
  }
  const n = b + c;
  if (n === 0) return { b, c, p: 1 };
  const k = Math.min(b, c);
  // Sum the binomial tail in log space (n may be in the tens of thousands on a dataset).
  const logHalfN = n * Math.log(0.5);
  const terms: number[] = [];
  for (let i = 0; i <= k; i++) terms.push(logChoose(n, i) + logHalfN);
  const m = Math.max(...terms);
  const tail = Math.exp(m) * terms.reduce((s, t) => s + Math.exp(t - m), 0);
  return { b, c, p: Math.min(1, 2 * tail) };
}

/**
 * The discordant counts of two models' per-image outcomes.
 *
 * @param first Whether the first model is right, per image.
 * @param second Whether the second model is right, per image (same images, same order).
 * @returns McNemar's exact test on them.
 */
export function mcnemarOf(first: readonly boolean[], second: readonly boolean[]): McNemar {
  if (first.length !== second.length) {
    throw new RangeError(`mcnemarOf: ${first.length} vs ${second.length} outcomes; the images must be the same`);
  }
  let b = 0, c = 0;
  for (let i = 0; i < first.length; i++) {
    if (first[i] && !second[i]) b++;
    else if (!first[i] && second[i]) c++;
  }
  return mcnemarExact(b, c);
}

/** A paired bootstrap interval for a difference of accuracies. */
export interface PairedBootstrap {
  /** The observed difference, first minus second. */
  difference: number;
  /** The percentile interval. */
  ci: [number, number];
  /** The confidence level (0.95). */
  level: number;
  resamples: number;
  seed: number;
}

/**
 * A percentile bootstrap interval for accuracy(first) - accuracy(second), resampling images with replacement.
 *
 * @example
 * ```ts
 * import { pairedBootstrap } from "./stats.ts";
 * const a = [true, true, false, true], b = [false, true, false, false];
 * const r = pairedBootstrap(a, b, { seed: 7, resamples: 500 });
 * if (r.difference !== 0.5 || r.ci[0] > r.ci[1]) throw new Error();
 * ```
 * @param first Whether the first model is right, per image.
 * @param second Whether the second model is right, per image.
 * @param opts `seed` (default 0), `resamples` (default 2000), `level` (default 0.95).
 * @returns The difference and its interval; the same seed gives the same interval.
 */
export function pairedBootstrap(
  first: readonly boolean[],
  second: readonly boolean[],
  opts: { seed?: number; resamples?: number; level?: number } = {},
): PairedBootstrap {
  const n = first.length;
  if (n !== second.length) {
    throw new RangeError(`pairedBootstrap: ${n} vs ${second.length} outcomes; the images must be the same`);
  }
  if (n === 0) throw new RangeError("pairedBootstrap: no images");
  const seed = opts.seed ?? 0, resamples = opts.resamples ?? 2000, level = opts.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 100) throw new RangeError("pairedBootstrap: resamples >= 100");
  const d = first.map((x, i) => Number(x) - Number(second[i]));
  const difference = d.reduce((s, x) => s + x, 0) / n;
  const rand = seededRandom(seed);
  const stats = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += d[Math.floor(rand() * n)]!;
    stats[r] = s / n;
  }
  stats.sort();
  const q = (p: number) => {
    // Linear interpolation between order statistics, as numpy's default percentile.
    const h = (resamples - 1) * p, lo = Math.floor(h), hi = Math.min(lo + 1, resamples - 1);
    return stats[lo]! + (h - lo) * (stats[hi]! - stats[lo]!);
  };
  const alpha = (1 - level) / 2;
  return { difference, ci: [q(alpha), q(1 - alpha)], level, resamples, seed };
}

/** logit(p) = ln(p / (1 - p)), with p clamped to [1e-4, 1 - 1e-4] so that 0 % and 100 % stay plottable. */
export function logit(p: number): number {
  const q = Math.min(1 - 1e-4, Math.max(1e-4, p));
  return Math.log(q / (1 - q));
}

/** The inverse of {@linkcode logit}. */
export function expit(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** A line in logit space: logit(y) = slope * logit(x) + intercept. */
export interface LogitLine {
  slope: number;
  intercept: number;
  /** How many points it was fitted on. */
  n: number;
}

/**
 * The least-squares line through (logit x, logit y), as imagenet-testbed fits its baseline.
 *
 * @example
 * ```ts
 * import { expit, logitFit } from "./stats.ts";
 * const pts = [-1, 0, 1.5].map((t) => ({ x: expit(t), y: expit(0.5 * t - 1) }));
 * const line = logitFit(pts);
 * if (Math.abs(line.slope - 0.5) > 1e-9 || Math.abs(line.intercept + 1) > 1e-9) throw new Error();
 * ```
 * @param points Accuracies in (0, 1): x in distribution, y under the shift.
 * @returns The fitted line.
 */
export function logitFit(points: readonly { x: number; y: number }[]): LogitLine {
  if (points.length < 2) throw new RangeError(`logitFit: needs at least 2 points, got ${points.length}`);
  const xs = points.map((p) => logit(p.x)), ys = points.map((p) => logit(p.y));
  const n = points.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n, my = ys.reduce((s, v) => s + v, 0) / n;
  let sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  if (sxx === 0) throw new RangeError("logitFit: every point has the same in-distribution accuracy");
  const slope = sxy / sxx;
  return { slope, intercept: my - slope * mx, n };
}

/**
 * Effective robustness: how far a model's shifted accuracy lies above the baseline's prediction from its
 * in-distribution accuracy, in accuracy units (positive: more robust than the baseline models).
 *
 * @param line The baseline fit.
 * @param x The model's in-distribution accuracy.
 * @param y The model's shifted accuracy.
 * @returns y - expit(slope * logit(x) + intercept).
 */
export function effectiveRobustness(line: LogitLine, x: number, y: number): number {
  return y - expit(line.slope * logit(x) + line.intercept);
}
