/**
 * Published accuracies of standard ImageNet-1k-trained models under three natural shifts (ImageNet-Sketch, -R,
 * -A), transcribed with their source from timm's results CSVs (`data/baselines/timm_in1k_robustness.json`), for
 * the effective-robustness baseline of Taori et al. (2020).
 *
 * @example
 * ```ts
 * import { baselineFor, baselinePoints } from "./baselines.ts";
 * if (baselineFor("sketch") !== "sketch" || baselineFor("imagenet-r") !== "r" || baselineFor("photo") !== null) {
 *   throw new Error();
 * }
 * const rn50 = baselinePoints("sketch").find((p) => p.model === "resnet50.tv_in1k")!;
 * if (Math.abs(rn50.x - 0.7613) > 1e-9) throw new Error(String(rn50.x)); // 24.090 - (-52.040)
 * ```
 *
 * @module
 */
import table from "../../data/baselines/timm_in1k_robustness.json" with { type: "json" };

/** The shifted test sets the table covers. */
export type BaselineSet = "sketch" | "r" | "a";

/** Their usual names. */
export const BASELINE_NAMES: Record<BaselineSet, string> = {
  sketch: "ImageNet-Sketch",
  r: "ImageNet-R",
  a: "ImageNet-A",
};

/** What the in-distribution axis is for each set in the published figures. */
export const BASELINE_REFERENCE: Record<BaselineSet, string> = {
  sketch: "ImageNet-1k validation (1000 classes)",
  r: "ImageNet-1k validation on ImageNet-R's 200 classes",
  a: "ImageNet-1k validation on ImageNet-A's 200 classes",
};

/** One published model: in-distribution and shifted top-1, as fractions. */
export interface BaselinePoint {
  /** The timm model name. */
  model: string;
  /** In-distribution top-1. */
  x: number;
  /** Shifted top-1. */
  y: number;
}

type Cell = [number, number] | null;
const MODELS = table.models as { model: string; sketch: Cell; r: Cell; a: Cell }[];

/** Where the numbers come from: repository, licence, and the file and commit of each set. */
export const BASELINE_SOURCE = table.source as {
  repository: string;
  licence: string;
  files: Record<BaselineSet, { path: string; commit: string }>;
};

/**
 * The published points for one set: x = top1 - top1_diff (the CSV's own reference run), y = top1.
 *
 * @param set The shifted set.
 * @returns The points, in the table's order.
 */
export function baselinePoints(set: BaselineSet): BaselinePoint[] {
  return MODELS.flatMap((m) => {
    const c = m[set];
    return c ? [{ model: m.model, x: (c[0] - c[1]) / 100, y: c[0] / 100 }] : [];
  });
}

/**
 * Which published set a domain or dataset name corresponds to, if any: sketches to ImageNet-Sketch, renditions and
 * art to ImageNet-R, natural adversarial examples to ImageNet-A.
 *
 * @param name A compare domain or an eval dataset name.
 * @returns The set, or null when none matches.
 */
export function baselineFor(name: string): BaselineSet | null {
  const k = name.toLowerCase().replace(/[^a-z0-9]/g, "");
  if (["sketch", "sketches", "imagenetsketch", "inetsketch"].includes(k)) return "sketch";
  if (["art", "rendition", "renditions", "imagenetr", "inetr"].includes(k)) return "r";
  if (["imageneta", "adversarial", "ineta"].includes(k)) return "a";
  return null;
}
