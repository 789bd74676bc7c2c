/**
 * The shifts `deno task shift` renders and how each severity (1-5) maps to kernel parameters. Shared by the
 * WGSL driver and the CPU reference, so both render the same thing.
 *
 * Severities follow ImageNet-C where it has the shift (Gaussian noise sigma 0.08-0.38, Gaussian blur sigma 1-6
 * and contrast 0.4-0.05 at 224 px); sizes in pixels scale with the image's short side / 224, so a 500 px photo
 * looks like its 224 px crop would.
 *
 * @module
 */

/** The shifts, in report order. */
export const SHIFTS = ["sketch", "cartoon", "grayscale", "noise", "blur", "contrast", "pixelate"] as const;
/** A shift's name. */
export type ShiftName = typeof SHIFTS[number];

/** Kernel parameters (see `kernels/shift.wgsl`). */
export interface ShiftParams {
  /** 0 grayscale, 1 contrast, 2 noise, 3 pixelate, 4 cartoon (one pass); 5 blur, 6 sketch (two passes). */
  op: number;
  /** Integer parameter: block side, posterise levels, or blur radius. */
  k: number;
  /** Float parameters. */
  a: number;
  b: number;
  c: number;
  d: number;
}

const at = (xs: readonly number[], severity: number) => xs[severity - 1]!;

/**
 * Parameters of `shift` at `severity` for an image of the given size.
 *
 * @example
 * ```ts
 * import { shiftParams } from "./params.ts";
 * const p = shiftParams("blur", 1, 448, 448); // sigma 1 at 224 px is sigma 2 at 448 px
 * if (p.op !== 5 || p.a !== 2 || p.k !== 6) throw new Error(JSON.stringify(p));
 * ```
 * @param shift The shift.
 * @param severity 1 (mild) to 5 (severe).
 * @param width Image width.
 * @param height Image height.
 * @returns The parameters.
 */
export function shiftParams(shift: ShiftName, severity: number, width: number, height: number): ShiftParams {
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) {
    throw new RangeError(`severity must be 1..5, got ${severity}`);
  }
  const scale = Math.min(width, height) / 224;
  const none = { k: 0, a: 0, b: 0, c: 0, d: 0 };
  switch (shift) {
    case "grayscale":
      return { ...none, op: 0, a: at([0.6, 0.7, 0.8, 0.9, 1], severity) };
    case "contrast":
      return { ...none, op: 1, a: at([0.4, 0.3, 0.2, 0.1, 0.05], severity) };
    case "noise":
      return { ...none, op: 2, a: at([0.08, 0.12, 0.18, 0.26, 0.38], severity) };
    case "pixelate":
      return { ...none, op: 3, k: Math.max(2, Math.round(at([2.5, 3.5, 5, 7, 10], severity) * scale)) };
    case "cartoon": {
      const b = at([0.35, 0.3, 0.25, 0.2, 0.15], severity);
      return { ...none, op: 4, k: at([6, 5, 4, 4, 3], severity), b, c: b + 0.35 };
    }
    case "blur": {
      const sigma = at([1, 2, 3, 4, 6], severity) * scale;
      return { ...none, op: 5, a: sigma, k: Math.ceil(3 * sigma) };
    }
    case "sketch": {
      const sigma = at([0.8, 1.1, 1.5, 2, 2.6], severity) * scale;
      return { op: 6, a: sigma, k: Math.ceil(3 * 1.6 * sigma), b: 0.98, c: 0, d: 100 };
    }
  }
}

/**
 * The noise seed of image `index` of a run seeded with `seed`.
 *
 * @param seed The run's seed.
 * @param index The image's position.
 * @returns A 32-bit seed.
 */
export function imageSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b)) >>> 0;
}
