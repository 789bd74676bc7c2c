/**
 * Where the models differ: their most frequent confusions (true → predicted, with the WordNet distance between
 * the two), the images one model gets right and the other wrong, and classes ranked by the difference in top-1.
 * Everything is keyed by class index, never by name.
 *
 * @example
 * ```ts
 * import { topConfusions } from "./differences.ts";
 * const s = (index: number) => ({ label: `c${index}`, index, score: 1 });
 * const r = (t: number, p: number) => ({ domain: "d", true: { index: t, label: `c${t}`, wnid: "n02128385" },
 *   preds: { m: [s(p)] } });
 * const c = topConfusions([r(1, 2), r(1, 2), r(1, 1), r(3, 2)], "m", "d", 5);
 * if (c[0]!.count !== 2 || c[0]!.true_index !== 1 || c[0]!.pred_index !== 2) throw new Error(JSON.stringify(c));
 * ```
 *
 * @module
 */
import { imagenetClasses } from "../data/imagenet.ts";
import { mistakeSeverity } from "../data/wordnet.ts";

/** A prediction: label, ImageNet index, score. */
export interface Ranked {
  label: string;
  index: number;
  score: number;
}

/** One image as this module reads it: its domain, its true class and each model's ranked predictions. */
export interface Judged {
  domain: string;
  true: { index: number; label: string; wnid: string };
  preds: Readonly<Record<string, readonly Ranked[] | undefined>>;
}

/** A frequent mistake. */
export interface Confusion {
  true_index: number;
  true_label: string;
  pred_index: number;
  pred_label: string;
  /** Images with this mistake. */
  count: number;
  /** Share of the true class's images in the domain with this mistake. */
  share: number;
  /** Hypernym edges from the true class up to the nearest ancestor it shares with the prediction. */
  distance: number | null;
}

/**
 * The most frequent wrong top-1 predictions of one model in one domain, most frequent first (ties: by true then
 * predicted index).
 *
 * @param images The images.
 * @param model The model key.
 * @param domain The domain.
 * @param limit How many to return.
 * @returns The confusions.
 */
export function topConfusions(images: readonly Judged[], model: string, domain: string, limit: number): Confusion[] {
  const counts = new Map<string, { t: Judged["true"]; p: Ranked; count: number }>();
  const perClass = new Map<number, number>();
  for (const im of images) {
    if (im.domain !== domain) continue;
    const top = im.preds[model]?.[0];
    if (!top) continue;
    perClass.set(im.true.index, (perClass.get(im.true.index) ?? 0) + 1);
    if (top.index === im.true.index) continue;
    const k = `${im.true.index}>${top.index}`;
    const e = counts.get(k) ?? { t: im.true, p: top, count: 0 };
    e.count++;
    counts.set(k, e);
  }
  const wnids = imagenetClasses();
  return [...counts.values()]
    .sort((a, b) => b.count - a.count || a.t.index - b.t.index || a.p.index - b.p.index)
    .slice(0, limit)
    .map(({ t, p, count }) => {
      const pw = wnids[p.index]?.wnid;
      const d = pw ? mistakeSeverity(t.wnid, pw) : Infinity;
      return {
        true_index: t.index,
        true_label: t.label,
        pred_index: p.index,
        pred_label: p.label,
        count,
        share: count / perClass.get(t.index)!,
        distance: Number.isFinite(d) ? d : null,
      };
    });
}

/**
 * The images `right` gets right at top-1 and `wrong` gets wrong, in input order.
 *
 * @param images The images.
 * @param right The model that must be right.
 * @param wrong The model that must be wrong.
 * @returns The indices into `images`.
 */
export function disagreements(images: readonly Judged[], right: string, wrong: string): number[] {
  const out: number[] = [];
  images.forEach((im, i) => {
    const a = im.preds[right]?.[0], b = im.preds[wrong]?.[0];
    if (a && b && a.index === im.true.index && b.index !== im.true.index) out.push(i);
  });
  return out;
}

/** One class with each model's top-1 over all domains, and the difference between two of them. */
export interface ClassDifference {
  index: number;
  label: string;
  n: number;
  /** Top-1 by model key, 0..1, over the images that model scored (absent: it scored none of this class). */
  top1: Record<string, number>;
  /** top1[a] - top1[b], or null when either scored none of this class. */
  difference: number | null;
}

/**
 * Every class that has images, with top-1 pooled over the domains, sorted by the difference between models `a`
 * and `b` (largest first; classes without a difference last; ties by index).
 *
 * @param images The images.
 * @param models The model keys to report.
 * @param a The first model of the difference.
 * @param b The second.
 * @returns The rows.
 */
export function classDifferences(
  images: readonly Judged[],
  models: readonly string[],
  a: string,
  b: string,
): ClassDifference[] {
  const rows = new Map<
    number,
    { label: string; n: number; hits: Record<string, number>; scored: Record<string, number> }
  >();
  for (const im of images) {
    const r = rows.get(im.true.index) ?? { label: im.true.label, n: 0, hits: {}, scored: {} };
    r.n++;
    for (const m of models) {
      const top = im.preds[m];
      if (!top) continue;
      r.scored[m] = (r.scored[m] ?? 0) + 1;
      if (top[0]?.index === im.true.index) r.hits[m] = (r.hits[m] ?? 0) + 1;
    }
    rows.set(im.true.index, r);
  }
  return [...rows.entries()].map(([index, r]) => {
    const top1 = Object.fromEntries(
      models.filter((m) => r.scored[m]).map((m) => [m, (r.hits[m] ?? 0) / r.scored[m]!]),
    );
    const difference = top1[a] !== undefined && top1[b] !== undefined ? top1[a]! - top1[b]! : null;
    return { index, label: r.label, n: r.n, top1, difference };
  }).sort((x, y) =>
    (x.difference === null ? 1 : 0) - (y.difference === null ? 1 : 0) ||
    (y.difference ?? 0) - (x.difference ?? 0) || x.index - y.index
  );
}
