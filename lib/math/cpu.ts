/**
 * CPU paths of the kernels, accumulated in float64: used with `--device wasm` and as references in tests.
 *
 * @module
 */

/**
 * Cosine similarity of rows of `a` [b,d] with rows of `t` [c,d].
 *
 * @example
 * ```ts
 * import { cosineCpu } from "./cpu.ts";
 * const s = cosineCpu(new Float32Array([1, 0]), new Float32Array([1, 1]), 1, 1, 2);
 * if (Math.abs(s[0]! - Math.SQRT1_2) > 1e-12) throw new Error();
 * ```
 * @param a Row-major [b, d].
 * @param t Row-major [c, d].
 * @param b Rows of a.
 * @param c Rows of t.
 * @param d Row length.
 * @returns [b, c] similarities; 0 where a row is zero.
 */
export function cosineCpu(a: ArrayLike<number>, t: ArrayLike<number>, b: number, c: number, d: number): Float64Array {
  const out = new Float64Array(b * c);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < c; j++) {
      let dot = 0, na = 0, nt = 0;
      for (let k = 0; k < d; k++) {
        const x = a[i * d + k]!;
        const y = t[j * d + k]!;
        dot += x * y;
        na += x * x;
        nt += y * y;
      }
      const denom = Math.sqrt(na) * Math.sqrt(nt);
      out[i * c + j] = denom > 0 ? dot / denom : 0;
    }
  }
  return out;
}

/**
 * Row-wise `softmax(scale * logits[:, columns])`, stable (max subtracted).
 *
 * @example CLIP's logit scale sharpens cosine similarities
 * ```ts
 * import { softmaxCpu } from "./cpu.ts";
 * const p = softmaxCpu([0.30, 0.25], 1, 2, 100);
 * if (!(p[0]! > 0.99)) throw new Error(String(p[0]));
 * ```
 * @param logits Row-major [rows, n].
 * @param rows Row count.
 * @param n Row length.
 * @param scale Temperature multiplier.
 * @param columns Selected columns; all when omitted.
 * @returns [rows, columns.length] probabilities.
 */
export function softmaxCpu(
  logits: ArrayLike<number>,
  rows: number,
  n: number,
  scale: number,
  columns?: readonly number[],
): Float64Array {
  const cols = columns ?? Array.from({ length: n }, (_, i) => i);
  const m = cols.length;
  const out = new Float64Array(rows * m);
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity;
    for (const c of cols) mx = Math.max(mx, scale * logits[r * n + c]!);
    let sum = 0;
    for (let j = 0; j < m; j++) {
      const e = Math.exp(scale * logits[r * n + cols[j]!]! - mx);
      out[r * m + j] = e;
      sum += e;
    }
    for (let j = 0; j < m; j++) out[r * m + j] = out[r * m + j]! / sum;
  }
  return out;
}

/**
 * Indices of the `k` largest values, largest first; ties keep the lower index first.
 *
 * @example
 * ```ts
 * import { topK } from "./cpu.ts";
 * if (topK([0.1, 0.7, 0.2], 2).join() !== "1,2") throw new Error();
 * ```
 * @param values The values.
 * @param k How many.
 * @returns The indices.
 */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((x, y) => values[y]! - values[x]! || x - y);
  return idx.slice(0, Math.min(k, idx.length));
}

/** The activations the engine fuses into its GEMM epilogue, in float64. */
export const ACTIVATIONS_CPU: Record<string, (x: number) => number> = {
  none: (x) => x,
  relu: (x) => Math.max(0, x),
  quickgelu: (x) => x / (1 + Math.exp(-1.702 * x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
};

/** erf by its series (|x| < 3) or continued fraction: a float64 reference (about 1e-12 near |x| = 3, better elsewhere). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2) / (x sqrt(pi)) * 1 / (1 + 1/(2x^2) / (1 + 2/(2x^2) / (1 + ...))), evaluated bottom-up.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax * ax) / (1 + f);
  const erfc = Math.exp(-ax * ax) / (ax * Math.sqrt(Math.PI)) / (1 + f);
  return Math.sign(x) * (1 - erfc);
}

/**
 * C = act(A B + bias + R) in float64: the reference for the engine's GEMM kernel.
 *
 * @example
 * ```ts
 * import { gemmCpu } from "./cpu.ts";
 * const c = gemmCpu([1, 2, 3, 4], [1, 0, 0, 1], 2, 2, 2, { bias: [1, -10], activation: "relu" });
 * if (c.join() !== "2,0,4,0") throw new Error(c.join());
 * ```
 * @param a A, [m, k] row-major.
 * @param b B, [k, n] row-major.
 * @param m Rows of A.
 * @param n Columns of B.
 * @param k The shared dimension.
 * @param opts Bias [n], residual [m, n], activation.
 * @returns C, [m, n].
 */
export function gemmCpu(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  n: number,
  k: number,
  opts: { bias?: ArrayLike<number>; residual?: ArrayLike<number>; activation?: string } = {},
): Float64Array {
  const act = ACTIVATIONS_CPU[opts.activation ?? "none"];
  if (!act) throw new RangeError(`unknown activation ${opts.activation}`);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
      if (opts.bias) s += opts.bias[j]!;
      if (opts.residual) s += opts.residual[i * n + j]!;
      c[i * n + j] = act(s);
    }
  }
  return c;
}

/**
 * A convolution in float64, the obvious way: NCHW input, ONNX weights [C_out, C_in, KH, KW], zero padding,
 * dilation 1, one group; then bias, residual (NCHW) and activation. The reference for the engine's implicit GEMM,
 * written in the other layout on purpose so that a layout slip in the kernel cannot hide.
 *
 * @example
 * ```ts
 * import { conv2dNchwCpu } from "./cpu.ts";
 * // 1x1 image, 1 channel, 3x3 kernel of ones with padding 1: only the centre tap sees the pixel.
 * const y = conv2dNchwCpu([5], new Array(9).fill(1), { n: 1, cin: 1, h: 1, w: 1, cout: 1, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1 });
 * if (y.join() !== "5") throw new Error(y.join());
 * ```
 */
export function conv2dNchwCpu(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  s: {
    n: number;
    cin: number;
    h: number;
    w: number;
    cout: number;
    kh: number;
    kw: number;
    sh: number;
    sw: number;
    ph: number;
    pw: number;
  },
  opts: { bias?: ArrayLike<number>; residual?: ArrayLike<number>; activation?: string } = {},
): Float64Array {
  const act = ACTIVATIONS_CPU[opts.activation ?? "none"];
  if (!act) throw new RangeError(`unknown activation ${opts.activation}`);
  const oh = Math.floor((s.h + 2 * s.ph - s.kh) / s.sh) + 1, ow = Math.floor((s.w + 2 * s.pw - s.kw) / s.sw) + 1;
  const y = new Float64Array(s.n * s.cout * oh * ow);
  for (let b = 0; b < s.n; b++) {
    for (let co = 0; co < s.cout; co++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let sum = opts.bias ? opts.bias[co]! : 0;
          for (let ci = 0; ci < s.cin; ci++) {
            for (let ky = 0; ky < s.kh; ky++) {
              const iy = oy * s.sh - s.ph + ky;
              if (iy < 0 || iy >= s.h) continue;
              for (let kx = 0; kx < s.kw; kx++) {
                const ix = ox * s.sw - s.pw + kx;
                if (ix < 0 || ix >= s.w) continue;
                sum += x[((b * s.cin + ci) * s.h + iy) * s.w + ix]! * w[((co * s.cin + ci) * s.kh + ky) * s.kw + kx]!;
              }
            }
          }
          const o = ((b * s.cout + co) * oh + oy) * ow + ox;
          if (opts.residual) sum += opts.residual[o]!;
          y[o] = act(sum);
        }
      }
    }
  }
  return y;
}

/** NCHW to NHWC, for comparing the engine's NHWC tensors with NCHW references. */
export function nchwToNhwc(x: ArrayLike<number>, n: number, c: number, h: number, w: number): Float64Array {
  const out = new Float64Array(n * c * h * w);
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      for (let i = 0; i < h * w; i++) out[(b * h * w + i) * c + ch] = x[(b * c + ch) * h * w + i]!;
    }
  }
  return out;
}

/**
 * Max or average pooling in float64 over NCHW input, ONNX semantics: max ignores padding; average divides by the
 * taps inside the image unless `countIncludePad`. The reference for the engine's NHWC pooling kernel.
 *
 * @example
 * ```ts
 * import { poolNchwCpu } from "./cpu.ts";
 * const y = poolNchwCpu([1, 2, 3, 4], { n: 1, c: 1, h: 2, w: 2, kh: 2, kw: 2, sh: 2, sw: 2, ph: 0, pw: 0 }, "average");
 * if (y.join() !== "2.5") throw new Error(y.join());
 * ```
 */
export function poolNchwCpu(
  x: ArrayLike<number>,
  s: {
    n: number;
    c: number;
    h: number;
    w: number;
    kh: number;
    kw: number;
    sh: number;
    sw: number;
    ph: number;
    pw: number;
  },
  mode: "max" | "average",
  countIncludePad = false,
): Float64Array {
  const oh = Math.floor((s.h + 2 * s.ph - s.kh) / s.sh) + 1, ow = Math.floor((s.w + 2 * s.pw - s.kw) / s.sw) + 1;
  const y = new Float64Array(s.n * s.c * oh * ow);
  for (let b = 0; b < s.n; b++) {
    for (let ch = 0; ch < s.c; ch++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let best = -Infinity, sum = 0, taps = 0;
          for (let ky = 0; ky < s.kh; ky++) {
            for (let kx = 0; kx < s.kw; kx++) {
              const iy = oy * s.sh - s.ph + ky, ix = ox * s.sw - s.pw + kx;
              if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
              const v = x[((b * s.c + ch) * s.h + iy) * s.w + ix]!;
              best = Math.max(best, v);
              sum += v;
              taps++;
            }
          }
          y[((b * s.c + ch) * oh + oy) * ow + ox] = mode === "max"
            ? best
            : sum / (countIncludePad ? s.kh * s.kw : taps);
        }
      }
    }
  }
  return y;
}
