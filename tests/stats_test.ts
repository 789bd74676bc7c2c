/** The report's paired statistics and the effective-robustness fit, against independent computations. */
import { deepEqual, equal, ok as assert, throws } from "node:assert/strict";
import {
  effectiveRobustness,
  expit,
  logit,
  logitFit,
  mcnemarExact,
  mcnemarOf,
  pairedBootstrap,
} from "../lib/report/stats.ts";

/** The exact two-sided McNemar p-value with BigInt binomial coefficients: an independent implementation. */
function mcnemarBig(b: number, c: number): number {
  const n = b + c, k = Math.min(b, c);
  let coef = 1n, sum = 0n;
  for (let i = 0; i <= k; i++) {
    if (i > 0) coef = (coef * BigInt(n - i + 1)) / BigInt(i);
    sum += coef;
  }
  // n stays below 1024 here, so 2^n is a finite double and the one rounding is in Number(sum).
  return Math.min(1, (2 * Number(sum)) / 2 ** n);
}

Deno.test("mcnemarExact() gives the exact binomial p-value on known tables", () => {
  assert(Math.abs(mcnemarExact(1, 5).p - 14 / 64) < 1e-15); // 2 * (C(6,0) + C(6,1)) / 2^6
  assert(Math.abs(mcnemarExact(10, 2).p - 2 * (1 + 12 + 66) / 4096) < 1e-15);
  equal(mcnemarExact(3, 3).p, 1); // 2 * 42/64 > 1: clamped
  equal(mcnemarExact(0, 0).p, 1);
  assert(Math.abs(mcnemarExact(0, 7).p - 2 / 128) < 1e-15);
  for (const [b, c] of [[17, 31], [40, 22], [0, 60], [100, 130]]) {
    const p = mcnemarExact(b!, c!).p, q = mcnemarBig(b!, c!);
    assert(Math.abs(p - q) <= 1e-9 * q, `${b},${c}: ${p} vs ${q}`);
  }
  // At large n the exact test approaches the continuity-corrected chi-square: (|b - c| - 1)^2 / (b + c) = 10.89.
  const p = mcnemarExact(400, 500).p;
  assert(Math.abs(p - 0.000967) / 0.000967 < 0.1, String(p));
  throws(() => mcnemarExact(-1, 2), /count/);
});

Deno.test("mcnemarOf() counts only the images where exactly one model is right", () => {
  const a = [true, true, false, false, true, false];
  const b = [true, false, true, false, false, false];
  deepEqual(mcnemarOf(a, b), { b: 2, c: 1, p: 1 });
  throws(() => mcnemarOf([true], [true, false]), /same/);
});

Deno.test("pairedBootstrap() reproduces on a fixed seed and matches the normal interval at large n", () => {
  // 1000 images: 120 where only the first is right, 80 where only the second is: difference 0.04.
  const n = 1000;
  const first = Array.from({ length: n }, (_, i) => i < 120 || (i >= 200 && i < 700));
  const second = Array.from({ length: n }, (_, i) => (i >= 120 && i < 200) || (i >= 200 && i < 700));
  const r = pairedBootstrap(first, second, { seed: 1, resamples: 4000 });
  assert(Math.abs(r.difference - 0.04) < 1e-12);
  deepEqual(pairedBootstrap(first, second, { seed: 1, resamples: 4000 }), r);
  const other = pairedBootstrap(first, second, { seed: 2, resamples: 4000 });
  assert(other.ci[0] !== r.ci[0] || other.ci[1] !== r.ci[1], "a different seed resamples differently");
  // Normal approximation of the paired difference: sd = sqrt((pb + pc - (pb - pc)^2) / n).
  const sd = Math.sqrt((0.12 + 0.08 - 0.04 ** 2) / n);
  assert(Math.abs(r.ci[0] - (0.04 - 1.96 * sd)) < 0.004, `${r.ci[0]} vs ${0.04 - 1.96 * sd}`);
  assert(Math.abs(r.ci[1] - (0.04 + 1.96 * sd)) < 0.004, `${r.ci[1]} vs ${0.04 + 1.96 * sd}`);
  throws(() => pairedBootstrap([], []), /no images/);
});

Deno.test("logitFit() recovers a known line and solves a small least-squares set by hand", () => {
  const exact = [-2, -0.5, 0.3, 1.7].map((t) => ({ x: expit(t), y: expit(0.8 * t - 0.7) }));
  const line = logitFit(exact);
  assert(Math.abs(line.slope - 0.8) < 1e-9 && Math.abs(line.intercept + 0.7) < 1e-9, JSON.stringify(line));
  // In logit space (0,0), (1,1), (2,3): mean x 1, mean y 4/3, Sxx 2, Sxy 3: slope 1.5, intercept -1/6.
  const hand = logitFit([0, 1, 2].map((t, i) => ({ x: expit(t), y: expit([0, 1, 3][i]!) })));
  assert(Math.abs(hand.slope - 1.5) < 1e-9 && Math.abs(hand.intercept + 1 / 6) < 1e-9, JSON.stringify(hand));
  // A model on the line has no effective robustness; one above it has a positive one, in accuracy units.
  assert(Math.abs(effectiveRobustness(line, expit(0.3), expit(0.8 * 0.3 - 0.7))) < 1e-12);
  // At x = 0.76 the line predicts expit(0.8 * logit(0.76) - 0.7) = 0.555.
  const above = effectiveRobustness(line, 0.76, 0.7);
  equal(Math.sign(above), 1);
  assert(Math.abs(above - (0.7 - expit(0.8 * logit(0.76) - 0.7))) < 1e-12);
  equal(Math.sign(effectiveRobustness(line, 0.76, 0.5)), -1);
  throws(() => logitFit([{ x: 0.5, y: 0.5 }]), /at least 2/);
});
