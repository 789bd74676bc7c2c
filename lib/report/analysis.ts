/**
 * The analyses a comparison report shows beyond accuracy: effective robustness against published baselines,
 * the most frequent confusions per model and domain, the images only one model gets right, and classes ranked
 * by the CLIP − ResNet difference. Computed once from the document and shared by the Markdown, HTML and JSON
 * writers, so the three always agree.
 *
 * @module
 */
import type { CompareDocument, CompareResult, Score } from "../documents.ts";
import { BASELINE_SOURCE } from "./baselines.ts";
import { BOOTSTRAP_SEED } from "./metrics.ts";
import { type McNemar, mcnemarOf, type PairedBootstrap, pairedBootstrap } from "./stats.ts";
import {
  type ClassDifference,
  classDifferences,
  type Confusion,
  disagreements,
  type Judged,
  topConfusions,
} from "./differences.ts";
import { type RobustnessPanel, robustnessPanels, type TopOne } from "./robustness.ts";

/** How many confusions per model and domain the report lists. */
export const CONFUSIONS_SHOWN = 5;

/** Whether a document key is a CLIP model (`clip`, `clip_2`, ...) or a ResNet on the label set (`resnet`, `resnet_2`). */
export function modelKind(key: string): "clip" | "resnet" | null {
  // `resnet_1000` is the first ResNet's unrestricted 1000-way view, not a model of its own.
  if (key === "resnet_1000") return null;
  if (/^clip(_\d+)?$/.test(key)) return "clip";
  if (/^resnet(_\d+)?$/.test(key)) return "resnet";
  return null;
}

/** One paired comparison: model `a` against model `b` on the same images of one domain. */
export interface Pair {
  domain: string;
  a: string;
  b: string;
  n: number;
  mcnemar: McNemar;
  bootstrap: PairedBootstrap;
}

/** The report's analyses. */
export interface Analysis {
  /** Every CLIP model against every ResNet (label set), per domain: McNemar and the paired bootstrap. */
  pairs: Pair[];
  /** One panel per shifted domain. */
  effective_robustness: RobustnessPanel[];
  /** Where the baselines come from. */
  baseline_source: typeof BASELINE_SOURCE;
  /** Per domain, per model key, the most frequent confusions. */
  confusions: { domain: string; model: string; confusions: Confusion[] }[];
  /** Indices into `results` that CLIP gets right and ResNet wrong, and the reverse (label-set top-1). */
  galleries: { clip_only: number[]; resnet_only: number[] };
  /** Classes by CLIP − ResNet top-1 difference (the first of each kind), largest first, with every model's top-1;
   * empty unless both kinds ran. */
  per_class: ClassDifference[];
}

/**
 * A compare result's ranked predictions by document key (`clip`, `resnet`, `resnet_1000`, `clip_2`, ...); a model
 * that did not score the image has no key.
 */
export function resultPreds(r: CompareResult): Record<string, Score[]> {
  return {
    ...(r.clip ? { clip: r.clip.top5 } : {}),
    ...(r.resnet ? { resnet: r.resnet.top5, resnet_1000: r.resnet.top5_1000 } : {}),
    ...Object.fromEntries(Object.entries(r.more ?? {}).map(([key, v]) => [key, v.top5])),
  };
}

/** Each image with its models' ranked predictions, keyed like the document's accuracies. */
export function judged(doc: CompareDocument): Judged[] {
  return doc.results.map((r) => ({ domain: r.domain, true: r.true, preds: resultPreds(r) }));
}

/**
 * Computes every analysis of a report.
 *
 * @param images The images with each model's ranked predictions.
 * @param domains Per domain (or dataset), accuracies by model key.
 * @param reference The in-distribution domain, if any.
 * @param names Display names by model key.
 * @returns The analyses.
 */
export function analyze(
  images: readonly Judged[],
  domains: readonly {
    domain: string;
    models: Readonly<Record<string, TopOne>>;
    /** The first CLIP against the first ResNet, when already computed (a domain summary's). */
    paired?: { mcnemar: McNemar; bootstrap: PairedBootstrap } | null;
  }[],
  reference: string | undefined,
  names: Readonly<Record<string, string>>,
): Analysis {
  const keys = Object.keys(domains[0]?.models ?? {});
  const both = keys.includes("clip") && keys.includes("resnet");
  const clips = keys.filter((k) => modelKind(k) === "clip"), resnets = keys.filter((k) => modelKind(k) === "resnet");
  const pairs: Pair[] = [];
  for (const d of domains) {
    const ims = images.filter((im) => im.domain === d.domain);
    for (const a of clips) {
      for (const b of resnets) {
        if (!d.models[a] || !d.models[b]) continue;
        // Only the images both scored (a ResNet skips classes that map to no ImageNet class).
        const both = ims.filter((im) => im.preds[a] && im.preds[b]);
        if (both.length === 0) continue;
        // The first CLIP against the first ResNet is the domain summary's own paired comparison: not made twice.
        if (a === "clip" && b === "resnet" && d.paired) {
          pairs.push({ domain: d.domain, a, b, n: both.length, ...d.paired });
          continue;
        }
        const right = (m: string) => both.map((im) => im.preds[m]?.[0]?.index === im.true.index);
        const [ra, rb] = [right(a), right(b)];
        pairs.push({
          domain: d.domain,
          a,
          b,
          n: both.length,
          mcnemar: mcnemarOf(ra, rb),
          bootstrap: pairedBootstrap(ra, rb, { seed: BOOTSTRAP_SEED }),
        });
      }
    }
  }
  return {
    pairs,
    effective_robustness: reference ? robustnessPanels(domains, reference, names) : [],
    baseline_source: BASELINE_SOURCE,
    confusions: domains.flatMap((d) =>
      Object.keys(d.models).map((model) => ({
        domain: d.domain,
        model,
        confusions: topConfusions(images, model, d.domain, CONFUSIONS_SHOWN),
      }))
    ),
    galleries: both
      ? { clip_only: disagreements(images, "clip", "resnet"), resnet_only: disagreements(images, "resnet", "clip") }
      : { clip_only: [], resnet_only: [] },
    per_class: both ? classDifferences(images, [...clips, ...resnets], "clip", "resnet") : [],
  };
}
