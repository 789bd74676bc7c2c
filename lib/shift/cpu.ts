/**
 * CPU reference of `kernels/shift.wgsl` in float64, written from the same description: the tests compare the
 * kernel (f32 and f16) against it.
 *
 * @module
 */
import type { RgbaImage } from "../image/decode.ts";
import { type ShiftName, shiftParams } from "./params.ts";

const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;
const q8 = (v: number) => Math.min(255, Math.max(0, Math.floor(v * 255 + 0.5)));

/** PCG-style hash on 32-bit integers, as in the kernel. */
export function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The standard normal sample of pixel `i`, channel `ch`, as in the kernel (Box-Muller on two hashes). */
export function gaussianSample(seed: number, i: number, ch: number): number {
  const h1 = pcg((seed ^ pcg((i * 6 + ch * 2) >>> 0)) >>> 0);
  const h2 = pcg((h1 ^ 0x9e3779b9) >>> 0);
  const u1 = ((h1 >>> 8) + 1) / 16777217;
  const u2 = (h2 >>> 8) / 16777216;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Renders `shift` at `severity` on the CPU.
 *
 * @example
 * ```ts
 * import { shiftCpu } from "./cpu.ts";
 * const img = { width: 1, height: 1, data: new Uint8Array([255, 0, 0, 255]) };
 * const g = shiftCpu(img, "grayscale", 5, 0); // full grey: 0.299 * 255 = 76.2
 * if (g.data.join() !== "76,76,76,255") throw new Error(g.data.join());
 * ```
 * @param image The image.
 * @param shift The shift.
 * @param severity 1..5.
 * @param seed Noise seed (see `imageSeed`).
 * @returns The shifted image.
 */
export function shiftCpu(image: RgbaImage, shift: ShiftName, severity: number, seed: number): RgbaImage {
  const { width: w, height: h, data } = image;
  const p = shiftParams(shift, severity, w, h);
  const out = new Uint8Array(data.length);
  const px = (x: number, y: number, c: number) =>
    data[(Math.min(h - 1, Math.max(0, y)) * w + Math.min(w - 1, Math.max(0, x))) * 4 + c]! / 255;
  const put = (i: number, r: number, g: number, b: number) => {
    out[i * 4] = q8(r);
    out[i * 4 + 1] = q8(g);
    out[i * 4 + 2] = q8(b);
    out[i * 4 + 3] = data[i * 4 + 3]!;
  };
  if (p.op === 5 || p.op === 6) {
    const xdog = p.op === 6;
    const w1 = (t: number) => Math.exp(-(t * t) / (2 * p.a * p.a));
    const w2 = (t: number) => (xdog ? Math.exp(-(t * t) / (2 * (1.6 * p.a) ** 2)) : w1(t));
    const tmp = new Float64Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let a0 = 0, a1 = 0, a2 = 0, s0 = 0, s1 = 0;
        for (let t = -p.k; t <= p.k; t++) {
          let [r, g, b] = [px(x + t, y, 0), px(x + t, y, 1), px(x + t, y, 2)];
          if (xdog) r = g = b = luma(r, g, b);
          a0 += r * w1(t), a1 += g * w2(t), a2 += b * w1(t);
          s0 += w1(t), s1 += w2(t);
        }
        tmp.set([a0 / s0, a1 / s1, a2 / s0], (y * w + x) * 3);
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let a0 = 0, a1 = 0, a2 = 0, s0 = 0, s1 = 0;
        for (let t = -p.k; t <= p.k; t++) {
          const o = (Math.min(h - 1, Math.max(0, y + t)) * w + x) * 3;
          a0 += tmp[o]! * w1(t), a1 += tmp[o + 1]! * w2(t), a2 += tmp[o + 2]! * w1(t);
          s0 += w1(t), s1 += w2(t);
        }
        const [r, g, b] = [a0 / s0, a1 / s1, a2 / s0];
        if (xdog) {
          const dd = r - p.b * g;
          const e = dd >= p.c ? 1 : 1 + Math.tanh(p.d * (dd - p.c));
          put(y * w + x, e, e, e);
        } else put(y * w + x, r, g, b);
      }
    }
    return { width: w, height: h, data: out };
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let [r, g, b] = [px(x, y, 0), px(x, y, 1), px(x, y, 2)];
      if (p.op === 0) {
        const l = luma(r, g, b);
        [r, g, b] = [r + (l - r) * p.a, g + (l - g) * p.a, b + (l - b) * p.a];
      } else if (p.op === 1) {
        [r, g, b] = [(r - 0.5) * p.a + 0.5, (g - 0.5) * p.a + 0.5, (b - 0.5) * p.a + 0.5];
      } else if (p.op === 2) {
        r += p.a * gaussianSample(seed, i, 0),
          g += p.a * gaussianSample(seed, i, 1),
          b += p.a * gaussianSample(seed, i, 2);
      } else if (p.op === 3) {
        const x0 = Math.floor(x / p.k) * p.k, y0 = Math.floor(y / p.k) * p.k;
        const x1 = Math.min(x0 + p.k, w), y1 = Math.min(y0 + p.k, h);
        let a0 = 0, a1 = 0, a2 = 0;
        for (let yy = y0; yy < y1; yy++) {
          for (let xx = x0; xx < x1; xx++) a0 += px(xx, yy, 0), a1 += px(xx, yy, 1), a2 += px(xx, yy, 2);
        }
        const n = (x1 - x0) * (y1 - y0);
        [r, g, b] = [a0 / n, a1 / n, a2 / n];
      } else if (p.op === 4) {
        const levels = p.k - 1;
        const poster = (v: number) => Math.floor(v * levels + 0.5) / levels;
        const l = (dx: number, dy: number) => luma(px(x + dx, y + dy, 0), px(x + dx, y + dy, 1), px(x + dx, y + dy, 2));
        const gx = l(1, -1) + 2 * l(1, 0) + l(1, 1) - (l(-1, -1) + 2 * l(-1, 0) + l(-1, 1));
        const gy = l(-1, 1) + 2 * l(0, 1) + l(1, 1) - (l(-1, -1) + 2 * l(0, -1) + l(1, -1));
        const t = Math.min(1, Math.max(0, (Math.hypot(gx, gy) - p.b) / (p.c - p.b)));
        const dark = 1 - t * t * (3 - 2 * t);
        [r, g, b] = [poster(r) * dark, poster(g) * dark, poster(b) * dark];
      }
      put(i, r, g, b);
    }
  }
  return { width: w, height: h, data: out };
}
