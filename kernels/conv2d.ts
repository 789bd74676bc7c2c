/**
 * GPU convolution as an implicit GEMM over NHWC activations (the `conv` variant of `gemm.wgsl`), with BatchNorm
 * folded into the weights and bias once at load, and bias, residual add and activation fused into the epilogue.
 *
 * @module
 */
import type { ElemType } from "./_specialize.ts";
import { DEFAULT_GEMM_TILES, type GemmActivation, type GemmEpilogue, GemmKernel, type GemmTiles } from "./gemm.ts";
import type { KernelCall } from "./_dispatch.ts";

/** A convolution's geometry (ONNX attributes; symmetric padding, dilation 1, one group). */
export interface ConvShape extends Window {
  /** Images. */
  n: number;
  /** Input and output channels. */
  cin: number;
  cout: number;
}

/** A sliding window over an image: what convolution and pooling share. */
export interface Window {
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

/** Output height and width of a sliding window (floor mode, ONNX's default), for convolution and pooling alike. */
export function convOutput(s: Window): { oh: number; ow: number } {
  return { oh: Math.floor((s.h + 2 * s.ph - s.kh) / s.sh) + 1, ow: Math.floor((s.w + 2 * s.pw - s.kw) / s.sw) + 1 };
}

/**
 * Checks a window's sizes (every field an integer, paddings >= 0, the rest >= 1) and that it fits its image,
 * naming `what`.
 *
 * @returns The output height and width.
 */
export function checkWindow(what: string, s: Window): { oh: number; ow: number } {
  for (const [k, v] of Object.entries(s)) {
    const min = k === "ph" || k === "pw" ? 0 : 1;
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${what} ${k} must be an integer >= ${min}, got ${v}`);
  }
  const out = convOutput(s);
  if (out.oh < 1 || out.ow < 1) {
    throw new RangeError(`${what} ${s.kh}x${s.kw} with padding ${s.ph},${s.pw} does not fit ${s.h}x${s.w}`);
  }
  return out;
}

/**
 * Repacks ONNX Conv weights [C_out, C_in, KH, KW] into the kernel's [KH, KW, C_in, C_out] (row-major [K, N]).
 *
 * @example
 * ```ts
 * import { repackConvWeights } from "./conv2d.ts";
 * // 2 output channels, 1 input channel, 1x2 kernel: [[a, b]], [[c, d]] -> rows (kx) of [co0, co1].
 * if (repackConvWeights([1, 2, 3, 4], 2, 1, 1, 2).join() !== "1,3,2,4") throw new Error();
 * ```
 */
export function repackConvWeights(
  w: ArrayLike<number>,
  cout: number,
  cin: number,
  kh: number,
  kw: number,
): Float32Array {
  if (w.length !== cout * cin * kh * kw) {
    throw new RangeError(`Conv weights hold ${w.length} values, expected ${cout}x${cin}x${kh}x${kw}`);
  }
  const out = new Float32Array(w.length);
  for (let co = 0; co < cout; co++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          out[((y * kw + x) * cin + ci) * cout + co] = w[((co * cin + ci) * kh + y) * kw + x]!;
        }
      }
    }
  }
  return out;
}

/**
 * Folds an inference-mode BatchNormalization that follows a convolution into its weights and bias:
 * w' = w * gamma / sqrt(var + eps) per output channel, b' = (b - mean) * gamma / sqrt(var + eps) + beta.
 *
 * @param w ONNX weights [C_out, ...].
 * @param b The conv's bias, or undefined.
 * @param bn The BatchNorm's scale, shift, running mean and variance, and epsilon.
 * @returns The folded weights (same layout) and bias.
 */
export function foldBatchNorm(
  w: ArrayLike<number>,
  b: ArrayLike<number> | undefined,
  bn: {
    scale: ArrayLike<number>;
    shift: ArrayLike<number>;
    mean: ArrayLike<number>;
    variance: ArrayLike<number>;
    eps: number;
  },
): { w: Float32Array; b: Float32Array } {
  const cout = bn.scale.length;
  const per = w.length / cout;
  if (!Number.isInteger(per)) throw new RangeError(`BatchNorm over ${cout} channels cannot follow ${w.length} weights`);
  const ow = new Float32Array(w.length), ob = new Float32Array(cout);
  for (let c = 0; c < cout; c++) {
    const f = bn.scale[c]! / Math.sqrt(bn.variance[c]! + bn.eps);
    for (let i = 0; i < per; i++) ow[c * per + i] = w[c * per + i]! * f;
    ob[c] = ((b?.[c] ?? 0) - bn.mean[c]!) * f + bn.shift[c]!;
  }
  return { w: ow, b: ob };
}

/** A convolution as its implicit GEMM's sizes and the kernel's geometry params. */
function convGemm(s: ConvShape): { shape: { m: number; n: number; k: number }; geometry: number[] } {
  const { oh, ow } = checkWindow("Conv", s);
  return {
    shape: { m: s.n * oh * ow, n: s.cout, k: s.kh * s.kw * s.cin },
    geometry: [s.h, s.w, s.cin, oh, ow, s.kw, s.sh, s.sw, s.ph, s.pw],
  };
}

/** Runs convolutions on the GPU. */
export class GpuConv2d extends GemmKernel {
  /**
   * @example A 3x3 stride-2 conv + bias + ReLU on NHWC buffers already on the GPU
   * ```ts ignore
   * const conv = new GpuConv2d(device, "f32");
   * const y = conv.run(x, w, { n: 1, h: 56, w: 56, cin: 64, cout: 128, kh: 3, kw: 3, sh: 2, sw: 2, ph: 1, pw: 1 },
   *   { bias, activation: "relu" });
   * ```
   * @param device The device.
   * @param elem Element type of the tensors; f16 needs `shader-f16`. Accumulation is f32 either way.
   * @param tiles Tile sizes; validated against the device's limits before the pipeline is built.
   */
  constructor(device: GPUDevice, elem: ElemType, tiles: GemmTiles = DEFAULT_GEMM_TILES) {
    super(device, elem, tiles, true);
  }

  /**
   * Computes Y (NHWC) into a new buffer and submits the work.
   *
   * @param x The input, NHWC.
   * @param w The weights, repacked with {@linkcode repackConvWeights}.
   * @param s The geometry.
   * @param opts Bias [C_out], residual (NHWC, the output's shape), activation.
   * @returns A STORAGE | COPY_SRC buffer of N * OH * OW * C_out elements.
   */
  run(x: GPUBuffer, w: GPUBuffer, s: ConvShape, opts: GemmEpilogue = {}): GPUBuffer {
    const { shape, geometry } = convGemm(s);
    return this.dispatch(x, w, shape, geometry, opts, s.n * s.h * s.w * s.cin);
  }

  /**
   * Validates a convolution and returns its dispatch, unbound (bindings 1..5: X, W, bias, residual, Y).
   *
   * @param s The geometry.
   * @param opts Which epilogue parts are present, and the activation.
   * @returns The call.
   */
  prepareConv(s: ConvShape, opts: { bias?: boolean; residual?: boolean; activation?: GemmActivation }): KernelCall {
    const { shape, geometry } = convGemm(s);
    return this.prepare(shape, geometry, opts);
  }
}
