/**
 * Preprocessing recipes and the exact geometry of PIL + torchvision:
 * - `Resize(n)` sets the short side to n and the long side to `int(n * long / short)` (truncated);
 * - PIL resamples separably, horizontal pass first, with a filter whose support widens by the scale factor
 *   when downscaling (that is its antialiasing), 22-bit fixed-point weights, and rounding to uint8 between the
 *   passes;
 * - `CenterCrop` offsets use Python's `round()`, which rounds half to even.
 *
 * Only the output pixels inside the crop are computed, from only the source rows and columns they touch.
 *
 * @module
 */

/** Resampling filter, as in PIL. */
export type Filter = "bicubic" | "bilinear";

/** A preprocessing recipe: resize the short side, centre-crop, scale to [0,1], then normalise. */
export interface Recipe {
  /** Recipe name for reports: `clip`, `torchvision` or `unit` variants. */
  name: string;
  /** Target short side. */
  resize: number;
  /** Square crop size. */
  crop: number;
  /** Resampling filter. */
  filter: Filter;
  /** Per-channel mean subtracted after scaling to [0,1]. */
  mean: [number, number, number];
  /** Per-channel std divided by. */
  std: [number, number, number];
}

/** CLIP's published recipe: bicubic short side 224, centre-crop 224, CLIP mean/std. */
export const CLIP_RECIPE: Recipe = {
  name: "clip",
  resize: 224,
  crop: 224,
  filter: "bicubic",
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};

/** torchvision's ImageNet recipe: bilinear (antialiased) short side 256, centre-crop 224, ImageNet mean/std. */
export const TORCHVISION_RECIPE: Recipe = {
  name: "torchvision",
  resize: 256,
  crop: 224,
  filter: "bilinear",
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

/**
 * The same geometry with no normalisation: [0,1] RGB, for graphs that normalise inside.
 *
 * @example
 * ```ts
 * import { TORCHVISION_RECIPE, unitRecipe } from "./recipe.ts";
 * const r = unitRecipe(TORCHVISION_RECIPE);
 * if (r.mean[0] !== 0 || r.std[0] !== 1 || r.resize !== 256) throw new Error();
 * ```
 * @param r A recipe.
 * @returns The recipe without normalisation.
 */
export function unitRecipe(r: Recipe): Recipe {
  return { ...r, name: `${r.name}-unit`, mean: [0, 0, 0], std: [1, 1, 1] };
}

/** Fixed-point precision of PIL's 8-bit resampling weights. */
export const PRECISION_BITS = 22;

/**
 * torchvision's `Resize(size)` output size for an int size.
 *
 * @example
 * ```ts
 * import { resizedSize } from "./recipe.ts";
 * const s = resizedSize(500, 375, 256); // long side int(256 * 500 / 375) = 341
 * if (s.width !== 341 || s.height !== 256) throw new Error(JSON.stringify(s));
 * ```
 * @param width Source width.
 * @param height Source height.
 * @param size Target short side.
 * @returns The resized size.
 */
export function resizedSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/**
 * Python's `round()` for non-negative halves: round half to even.
 *
 * @param x The value.
 * @returns The rounded value.
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * torchvision's `CenterCrop` offset: `int(round((size - crop) / 2))`.
 *
 * @example
 * ```ts
 * import { centerCropOffset } from "./recipe.ts";
 * if (centerCropOffset(341, 224) !== 58) throw new Error(); // 58.5 rounds to even
 * ```
 * @param size The resized side.
 * @param crop The crop side.
 * @returns The offset.
 */
export function centerCropOffset(size: number, crop: number): number {
  return roundHalfEven((size - crop) / 2);
}

function bicubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

function bilinear(x: number): number {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
}

/** Resampling weights along one axis for a run of output positions. */
export interface AxisCoefficients {
  /** Kernel size: weights per output position. */
  ksize: number;
  /** Per output: first source index, relative to `first`. */
  start: Int32Array;
  /** Per output: number of source samples. */
  count: Int32Array;
  /** `ksize` fixed-point weights per output (zero padded). */
  weights: Int32Array;
  /** The same weights as doubles, normalised to sum 1 (PIL's values before fixed-point). */
  weightsF64: Float64Array;
  /** First source index touched. */
  first: number;
  /** Number of source indices touched. */
  span: number;
}

/**
 * PIL's `precompute_coeffs` and `normalize_coeffs_8bpc` for outputs `from .. from+count-1` of a resize from
 * `inSize` to `outSize`.
 *
 * @param inSize Source size along the axis.
 * @param outSize Resized size along the axis.
 * @param filter The filter.
 * @param from First output index needed (the crop offset).
 * @param count Number of outputs needed (the crop size).
 * @returns The coefficients.
 */
export function axisCoefficients(
  inSize: number,
  outSize: number,
  filter: Filter,
  from: number,
  count: number,
): AxisCoefficients {
  const [fn, support0] = filter === "bicubic" ? [bicubic, 2] : [bilinear, 1];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = support0 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count);
  const cnt = new Int32Array(count);
  const weights = new Int32Array(count * ksize);
  const weightsF64 = new Float64Array(count * ksize);
  const ss = 1 / filterscale;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < count; i++) {
    const xx = from + i;
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) * ss);
      weightsF64[i * ksize + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const k = ww !== 0 ? weightsF64[i * ksize + x]! / ww : weightsF64[i * ksize + x]!;
      weightsF64[i * ksize + x] = k;
      const fixed = k * (1 << PRECISION_BITS);
      weights[i * ksize + x] = k < 0 ? Math.trunc(-0.5 + fixed) : Math.trunc(0.5 + fixed);
    }
    start[i] = xmin;
    cnt[i] = xmax;
    first = Math.min(first, xmin);
    last = Math.max(last, xmin + xmax);
  }
  for (let i = 0; i < count; i++) start[i] = start[i]! - first;
  return { ksize, start, count: cnt, weights, weightsF64, first, span: last - first };
}

/** Everything needed to preprocess one image with one recipe. */
export interface PreprocessPlan {
  /** The recipe. */
  recipe: Recipe;
  /** Source size. */
  srcWidth: number;
  /** Source size. */
  srcHeight: number;
  /** Size after resize, before crop. */
  resized: { width: number; height: number };
  /** Crop offsets in the resized image. */
  left: number;
  /** Crop offsets in the resized image. */
  top: number;
  /** Horizontal coefficients for the crop's columns. */
  h: AxisCoefficients;
  /** Vertical coefficients for the crop's rows. */
  v: AxisCoefficients;
}

/**
 * Plans the preprocessing of a `width` x `height` image.
 *
 * @param width Source width.
 * @param height Source height.
 * @param recipe The recipe.
 * @returns The plan.
 */
export function planPreprocess(width: number, height: number, recipe: Recipe): PreprocessPlan {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`Image size must be positive integers, got ${width}x${height}`);
  }
  const resized = resizedSize(width, height, recipe.resize);
  if (resized.width < recipe.crop || resized.height < recipe.crop) {
    throw new RangeError(
      `Resize to ${recipe.resize} gives ${resized.width}x${resized.height}, smaller than crop ${recipe.crop}`,
    );
  }
  const left = centerCropOffset(resized.width, recipe.crop);
  const top = centerCropOffset(resized.height, recipe.crop);
  return {
    recipe,
    srcWidth: width,
    srcHeight: height,
    resized,
    left,
    top,
    h: axisCoefficients(width, resized.width, recipe.filter, left, recipe.crop),
    v: axisCoefficients(height, resized.height, recipe.filter, top, recipe.crop),
  };
}
