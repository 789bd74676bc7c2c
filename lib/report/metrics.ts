/**
 * Accuracy metrics for the comparison report: top-1/top-5 with 95 % Wilson intervals, mean per-class recall,
 * WordNet mistake severity, like-for-like subsets across domains, and a per-class table. Pure functions over
 * per-image records, so they can be tested on predictions that are known.
 *
 * @module
 */
import { type McNemar, mcnemarOf, type PairedBootstrap, pairedBootstrap } from "./stats.ts";
import { mistakeSeverity } from "../data/wordnet.ts";

/** A top-k prediction list entry. */
export interface Pred {
  /** Class index. */
  index: number;
}

/** One evaluated image, as the metrics need it. */
export interface EvalRecord {
  /** The domain (photo, art, sketch, or a dataset name). */
  domain: string;
  /** True class. */
  true: { index: number; wnid: string };
  /** Per model: its top-5 (best first), over the label set; absent when the model did not run. */
  preds: Record<string, Pred[]>;
}

/** Accuracy of one model on one set of images. */
export interface Accuracy {
  /** Image count. */
  n: number;
  /** Top-1 accuracy, a fraction. */
  top1: number;
  /** Top-5 accuracy, a fraction. */
  top5: number;
  /** 95 % Wilson interval of top-1. */
  top1_ci: [number, number];
  /** 95 % Wilson interval of top-5. */
  top5_ci: [number, number];
  /** Mean over classes of per-class top-1 recall. */
  mean_per_class_recall: number;
  /** Mean WordNet mistake severity of top-1 errors (edges up to the nearest shared ancestor), null if none. */
  mistake_severity: number | null;
}

/**
 * The 95 % Wilson score interval of k successes in n trials.
 *
 * @example
 * ```ts
 * import { wilson } from "./metrics.ts";
 * const [lo, hi] = wilson(7, 10);
 * if (Math.abs(lo - 0.3968) > 1e-4 || Math.abs(hi - 0.8922) > 1e-4) throw new Error(`${lo} ${hi}`);
 * ```
 * @param k Successes.
 * @param n Trials.
 * @returns [low, high]; [0, 1] when n is 0.
 */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959963984540054;
  const p = k / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** wnid of a class index, for severity. */
export type WnidOf = (index: number) => string;

/**
 * Accuracy of `model` over `records`.
 *
 * @param records The images (all must have predictions for `model`).
 * @param model The model key in `preds`.
 * @param wnidOf Class index to wnid.
 * @returns The accuracy.
 */
export function accuracy(records: readonly EvalRecord[], model: string, wnidOf: WnidOf): Accuracy {
  const n = records.length;
  let k1 = 0, k5 = 0, sev = 0, mistakes = 0;
  const perClass = new Map<number, [number, number]>();
  for (const r of records) {
    const p = r.preds[model];
    if (!p) throw new TypeError(`No ${model} predictions for an image of ${r.domain}`);
    const hit1 = p[0]?.index === r.true.index;
    if (hit1) k1++;
    else if (p[0]) {
      // Classes outside ImageNet (a class-name folder no wnid maps to) have no place in WordNet: no severity.
      const pw = wnidOf(p[0].index);
      if (r.true.wnid && pw) {
        sev += mistakeSeverity(r.true.wnid, pw);
        mistakes++;
      }
    }
    if (p.slice(0, 5).some((q) => q.index === r.true.index)) k5++;
    const c = perClass.get(r.true.index) ?? [0, 0];
    perClass.set(r.true.index, [c[0] + (hit1 ? 1 : 0), c[1] + 1]);
  }
  const recalls = [...perClass.values()].map(([h, t]) => h / t);
  return {
    n,
    top1: n ? k1 / n : 0,
    top5: n ? k5 / n : 0,
    top1_ci: wilson(k1, n),
    top5_ci: wilson(k5, n),
    mean_per_class_recall: recalls.length ? recalls.reduce((a, b) => a + b, 0) / recalls.length : 0,
    mistake_severity: mistakes ? sev / mistakes : null,
  };
}

/**
 * Accuracy of `model` over the records it scored (a ResNet skips classes outside ImageNet), or null when it scored
 * none of them.
 *
 * @param records The images.
 * @param model The model key in `preds`.
 * @param wnidOf Class index to wnid.
 * @returns The accuracy, or null.
 */
export function scoredAccuracy(records: readonly EvalRecord[], model: string, wnidOf: WnidOf): Accuracy | null {
  const scored = records.filter((r) => r.preds[model]);
  return scored.length ? accuracy(scored, model, wnidOf) : null;
}

/** The paired bootstrap's seed: the same images give the same interval on every run. */
export const BOOTSTRAP_SEED = 0;

/** One domain's figures. */
export interface DomainSummary {
  /** Domain name. */
  domain: string;
  /** Images. */
  n: number;
  /** Distinct classes. */
  classes: number;
  /** Per model. */
  models: Record<string, Accuracy>;
  /** CLIP minus ResNet, top-1 and top-5, when both ran. */
  clip_minus_resnet: { top1: number; top5: number } | null;
  /**
   * The paired comparison of CLIP's and the ResNet's top-1 on the same images (label set), when both ran:
   * McNemar's exact test on the images where exactly one is right (b: only CLIP, c: only the ResNet), and a seeded
   * paired bootstrap interval for the difference.
   */
  paired: { mcnemar: McNemar; bootstrap: PairedBootstrap } | null;
  /** Whether the counts cannot tell the models apart: n < 30, or McNemar's p >= 0.05. */
  inconclusive: boolean;
}

/**
 * Per-domain summaries, in first-seen domain order.
 *
 * @param records All images.
 * @param models Model keys to summarise.
 * @param wnidOf Class index to wnid.
 * @returns One summary per domain.
 */
export function summarizeDomains(
  records: readonly EvalRecord[],
  models: readonly string[],
  wnidOf: WnidOf,
): DomainSummary[] {
  const domains = [...new Set(records.map((r) => r.domain))];
  return domains.map((domain) => {
    const rs = records.filter((r) => r.domain === domain);
    const acc = Object.fromEntries(models.flatMap((m) => {
      const a = scoredAccuracy(rs, m, wnidOf);
      return a ? [[m, a]] : [];
    }));
    const c = acc.clip, r = acc.resnet;
    let paired: DomainSummary["paired"] = null;
    if (c && r) {
      const both = rs.filter((x) => x.preds.clip && x.preds.resnet);
      const right = (m: string) => both.map((x) => x.preds[m]![0]?.index === x.true.index);
      const [a, b] = [right("clip"), right("resnet")];
      paired = { mcnemar: mcnemarOf(a, b), bootstrap: pairedBootstrap(a, b, { seed: BOOTSTRAP_SEED }) };
    }
    return {
      domain,
      n: rs.length,
      classes: new Set(rs.map((x) => x.true.index)).size,
      models: acc,
      clip_minus_resnet: c && r ? { top1: c.top1 - r.top1, top5: c.top5 - r.top5 } : null,
      paired,
      inconclusive: rs.length < 30 || !paired || paired.mcnemar.p >= 0.05,
    };
  });
}

/** Two domains compared on the classes they share. */
export interface LikeForLike {
  /** The domains. */
  domains: [string, string];
  /** The shared class indices. */
  classes: number[];
  /** Per domain, per model: accuracy over the shared classes only. */
  accuracy: Record<string, Record<string, { n: number; top1: number; top5: number }>>;
}

/**
 * For every pair of domains that share classes, each model's accuracy on just those classes, so that shift
 * comparisons are like-for-like.
 *
 * @param records All images.
 * @param models Model keys.
 * @param wnidOf Class index to wnid.
 * @returns One entry per pair with at least one shared class.
 */
export function likeForLike(records: readonly EvalRecord[], models: readonly string[], wnidOf: WnidOf): LikeForLike[] {
  const domains = [...new Set(records.map((r) => r.domain))];
  const out: LikeForLike[] = [];
  for (let i = 0; i < domains.length; i++) {
    for (let j = i + 1; j < domains.length; j++) {
      const [a, b] = [domains[i]!, domains[j]!];
      const ca = new Set(records.filter((r) => r.domain === a).map((r) => r.true.index));
      const shared = [
        ...new Set(records.filter((r) => r.domain === b && ca.has(r.true.index)).map((r) => r.true.index)),
      ]
        .sort((x, y) => x - y);
      if (shared.length === 0) continue;
      const keep = new Set(shared);
      const accuracyByDomain: LikeForLike["accuracy"] = {};
      for (const d of [a, b]) {
        const rs = records.filter((r) => r.domain === d && keep.has(r.true.index));
        accuracyByDomain[d] = Object.fromEntries(models.flatMap((m) => {
          const x = scoredAccuracy(rs, m, wnidOf);
          return x ? [[m, { n: x.n, top1: x.top1, top5: x.top5 }]] : [];
        }));
      }
      out.push({ domains: [a, b], classes: shared, accuracy: accuracyByDomain });
    }
  }
  return out;
}

/** One class's row: per domain, images and top-1 hits per model. */
export interface ClassRow {
  /** Class index. */
  index: number;
  /** Per domain: image count and top-1 hits per model. */
  domains: Record<string, { n: number; hits: Record<string, number> }>;
}

/**
 * The per-class table.
 *
 * @param records All images.
 * @param models Model keys.
 * @returns Rows in class-index order.
 */
export function perClass(records: readonly EvalRecord[], models: readonly string[]): ClassRow[] {
  const rows = new Map<number, ClassRow>();
  for (const r of records) {
    const row = rows.get(r.true.index) ?? { index: r.true.index, domains: {} };
    const d = row.domains[r.domain] ?? { n: 0, hits: Object.fromEntries(models.map((m) => [m, 0])) };
    d.n++;
    for (const m of models) if (r.preds[m]?.[0]?.index === r.true.index) d.hits[m] = (d.hits[m] ?? 0) + 1;
    row.domains[r.domain] = d;
    rows.set(r.true.index, row);
  }
  return [...rows.values()].sort((a, b) => a.index - b.index);
}
