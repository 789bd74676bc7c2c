/**
 * Strict access to a state dict read from safetensors, for the graph builders: every tensor is asked for by its
 * exact name and shape, every mistake is one line naming the file and the tensor, and a tensor the builder never
 * asked for is an error too (like PyTorch's `load_state_dict(strict=True)`). Also the Conv + BatchNorm folding
 * both ResNets use.
 *
 * @module
 */
import { ClipcmpError } from "../../errors.ts";
import type { OnnxGraph } from "../../onnx/build.ts";
import { numel, type Safetensors, toFloat32 } from "../../weights/safetensors.ts";

/** A float tensor taken from the state dict. */
export interface Tensor32 {
  /** Its values. */
  data: Float32Array;
  /** Its shape. */
  shape: number[];
}

/** BatchNorm's epsilon in both torchvision and OpenAI's ResNets. */
export const BN_EPS = 1e-5;

/** A state dict that is consumed name by name. */
export class StateDict {
  private used = new Set<string>();

  /**
   * @param st The parsed file.
   * @param ignorable Names that may be present and are not needed (buffers such as `num_batches_tracked`).
   */
  constructor(readonly st: Safetensors, private readonly ignorable: RegExp[] = []) {}

  /** Whether a tensor exists. */
  has(name: string): boolean {
    return this.st.tensors.has(name);
  }

  /** The shape of a tensor that must exist. */
  shapeOf(name: string): number[] {
    const t = this.st.tensors.get(name);
    if (!t) throw this.error(`tensor "${name}" is missing`);
    return t.shape;
  }

  /** A one-line error naming the file. */
  error(what: string): ClipcmpError {
    return new ClipcmpError(`"${this.st.path}": ${what}`);
  }

  /**
   * A float tensor by exact name and shape (`-1` in `shape` accepts any size there).
   *
   * @param name The tensor's name.
   * @param shape The expected shape.
   * @returns Its values widened to float32.
   */
  take(name: string, shape: readonly number[]): Tensor32 {
    const t = this.st.tensors.get(name);
    if (!t) throw this.error(`tensor "${name}" is missing`);
    if (t.dtype === "I64") throw this.error(`tensor "${name}" is I64, expected a floating-point tensor`);
    const ok = t.shape.length === shape.length && t.shape.every((d, i) => shape[i] === -1 || d === shape[i]);
    if (!ok) {
      throw this.error(
        `tensor "${name}" has shape [${t.shape.join(",")}], expected [${shape.map((d) => d < 0 ? "?" : d).join(",")}]`,
      );
    }
    this.used.add(name);
    const data = toFloat32(t);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) throw this.error(`tensor "${name}" holds a non-finite value at index ${i}`);
    }
    return { data, shape: [...t.shape] };
  }

  /** Throws for a tensor that was never taken and is not ignorable. */
  finish(what: string): void {
    for (const [name, t] of this.st.tensors) {
      if (this.used.has(name)) continue;
      if (this.ignorable.some((r) => r.test(name))) {
        if (/num_batches_tracked$/.test(name) && (t.dtype !== "I64" || numel(t.shape) !== 1)) {
          throw this.error(`tensor "${name}" is ${t.dtype} [${t.shape.join(",")}], expected an I64 scalar`);
        }
        continue;
      }
      throw this.error(`unexpected tensor "${name}" (not part of ${what})`);
    }
  }
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/** Conv geometry. */
export interface ConvSpec {
  /** Stride (both axes). */
  stride?: number;
  /** Padding (all sides). */
  pad?: number;
}

/**
 * Emits `BatchNorm(Conv(x))` as one Conv with the BatchNorm folded in (exact in eval mode, up to float32
 * rounding): `W' = W·γ/√(σ²+ε)`, `b' = β − μ·γ/√(σ²+ε)`, computed in float64.
 *
 * @param g The graph.
 * @param sd The state dict.
 * @param conv The conv's name prefix (`layer1.0.conv1`): `.weight` [O, I, k, k], no bias.
 * @param bn The BatchNorm's prefix (`layer1.0.bn1`): `.weight`, `.bias`, `.running_mean`, `.running_var`.
 * @param x The input value.
 * @param inChannels Expected I.
 * @param outChannels Expected O.
 * @param k Kernel size.
 * @param spec Stride and padding.
 * @returns The output value.
 */
export function convBn(
  g: OnnxGraph,
  sd: StateDict,
  conv: string,
  bn: string,
  x: string,
  inChannels: number,
  outChannels: number,
  k: number,
  spec: ConvSpec = {},
): string {
  const w = sd.take(`${conv}.weight`, [outChannels, inChannels, k, k]);
  const gamma = sd.take(`${bn}.weight`, [outChannels]).data;
  const beta = sd.take(`${bn}.bias`, [outChannels]).data;
  const mean = sd.take(`${bn}.running_mean`, [outChannels]).data;
  const variance = sd.take(`${bn}.running_var`, [outChannels]).data;
  const per = inChannels * k * k;
  const wf = new Float32Array(w.data.length);
  const bf = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    if (!(variance[o]! >= 0)) throw sd.error(`tensor "${bn}.running_var" is negative at channel ${o}`);
    const s = gamma[o]! / Math.sqrt(variance[o]! + BN_EPS);
    for (let i = 0; i < per; i++) wf[o * per + i] = w.data[o * per + i]! * s;
    bf[o] = beta[o]! - mean[o]! * s;
  }
  const W = g.init(`${conv}.weight`, w.shape, wf);
  const B = g.init(`${conv}.bias`, [outChannels], bf);
  const stride = spec.stride ?? 1;
  const pad = spec.pad ?? 0;
  return g.op("Conv", [x, W, B], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] });
}

/** Counts `prefix.0`, `prefix.1`, … blocks by the presence of `prefix.M.suffix`. */
export function countBlocks(sd: StateDict, prefix: string, suffix: string): number {
  let n = 0;
  while (sd.has(`${prefix}.${n}.${suffix}`)) n++;
  return n;
}
