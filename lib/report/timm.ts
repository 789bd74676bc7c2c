/**
 * The accuracy cells of timm-like CSV rows, shared by the comparison report and `eval`.
 *
 * @module
 */

/** Accuracies as fractions. */
export interface TimmAccuracy {
  /** Top-1. */
  top1: number;
  /** Top-5. */
  top5: number;
  /** Mean per-class recall. */
  mean_per_class_recall: number;
}

/**
 * `top1, top1_err, top5, top5_err, top1_diff, top5_diff, mean_per_class_recall` in %, the diffs against
 * `ref` (empty without one).
 *
 * @example
 * ```ts
 * import { timmCells } from "./timm.ts";
 * const cells = timmCells({ top1: 0.5, top5: 0.75, mean_per_class_recall: 0.5 }, undefined, 1);
 * if (cells.join() !== "50.0,50.0,75.0,25.0,,,50.0") throw new Error(cells.join());
 * ```
 * @param a The accuracies.
 * @param ref The reference accuracies for the diffs.
 * @param digits Decimals.
 * @returns The seven cells.
 */
export function timmCells(a: TimmAccuracy, ref: TimmAccuracy | undefined, digits: number): string[] {
  const pct = (x: number) => (100 * x).toFixed(digits);
  return [
    pct(a.top1),
    pct(1 - a.top1),
    pct(a.top5),
    pct(1 - a.top5),
    ref ? pct(a.top1 - ref.top1) : "",
    ref ? pct(a.top5 - ref.top5) : "",
    pct(a.mean_per_class_recall),
  ];
}
