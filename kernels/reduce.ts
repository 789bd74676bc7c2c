/**
 * Reductions over one run of axes, GlobalAveragePool over NHWC, and ArgMax/ArgMin (see `reduce.wgsl`); and the
 * row gather of Gather (axis 0) and GatherND (batch_dims 1) (see `gather.wgsl`).
 *
 * @module
 */
import reduceSrc from "./reduce.wgsl" with { type: "text" };
import gatherSrc from "./gather.wgsl" with { type: "text" };
import type { GpuType } from "./_specialize.ts";
import { createKernel, groups1d, type KernelCall } from "./_dispatch.ts";

/** Reduction modes of `reduce.wgsl`. */
export const REDUCE_MODES = { sum: 0, mean: 1, max: 2, min: 3, sumsquare: 4, l2: 5, argmax: 6, argmin: 7 } as const;

/** A reduction. */
export type ReduceMode = keyof typeof REDUCE_MODES;

/** The view a reduction takes: [outer, r, inner], reducing r. */
export interface ReduceShape {
  outer: number;
  r: number;
  inner: number;
}

function checkSizes(what: string, sizes: Record<string, number>): void {
  for (const [k, v] of Object.entries(sizes)) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} ${k} must be a positive integer, got ${v}`);
  }
}

/** Runs `reduce.wgsl` and `gather.wgsl`, one pipeline per element-type combination. */
export class GpuReduce {
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  /**
   * @example The dispatches of the mean over the tokens of [N, T, C] and the argmax of each row of ids
   * ```ts ignore
   * const red = new GpuReduce(device);
   * const mean = red.prepare({ outer: n, r: t, inner: c }, "mean", { ein: "f32", eout: "f32" });
   * const eot = red.prepare({ outer: n, r: 77, inner: 1 }, "argmax", { ein: "i32", eout: "i32" });
   * ```
   * @param device The device.
   * @param wg Workgroup size (override constant).
   */
  constructor(readonly device: GPUDevice, readonly wg = 256) {
    if (!Number.isInteger(wg) || wg < 1 || wg > device.limits.maxComputeInvocationsPerWorkgroup) {
      throw new RangeError(
        `reduce workgroup size ${wg} is outside 1..${device.limits.maxComputeInvocationsPerWorkgroup}`,
      );
    }
  }

  private pipeline(kind: "reduce" | "gather", types: Record<string, GpuType>): GPUComputePipeline {
    const key = `${kind} ${Object.values(types).join(">")}`;
    let p = this.pipelines.get(key);
    if (!p) {
      p = createKernel(this.device, key, kind === "reduce" ? reduceSrc : gatherSrc, "main", { wg: this.wg }, types);
      this.pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Validates a reduction and returns its dispatch, unbound (bindings 1, 2: x, out).
   *
   * @param s The [outer, r, inner] view.
   * @param mode The reduction.
   * @param types Element types read and written (argmax/argmin write i32).
   * @returns The call.
   */
  prepare(s: ReduceShape, mode: ReduceMode, types: { ein: GpuType; eout: GpuType }): KernelCall {
    checkSizes("reduce", { ...s });
    const code = REDUCE_MODES[mode];
    if (code === undefined) throw new RangeError(`reduce mode "${mode}" is not one of ${Object.keys(REDUCE_MODES)}`);
    if ((mode === "argmax" || mode === "argmin") !== (types.eout === "i32")) {
      throw new RangeError(`reduce ${mode} must write ${mode.startsWith("arg") ? "i32" : "a float type"}`);
    }
    return {
      pipeline: this.pipeline("reduce", { ein: types.ein, eout: types.eout }),
      label: `${mode} [${s.outer},${s.r},${s.inner}]`,
      params: new Uint8Array(new Uint32Array([s.outer, s.r, s.inner, code]).buffer),
      groups: groups1d(Math.ceil((s.outer * s.inner) / this.wg)),
    };
  }

  /**
   * Validates a row gather and returns its dispatch, unbound (bindings 1..3: data, idx (i32), out).
   *
   * @param s `groups` blocks of `t` rows of `d` elements, and `r` indices per block.
   * @param elem The data's element type.
   * @returns The call.
   */
  prepareGather(s: { groups: number; r: number; t: number; d: number }, elem: GpuType): KernelCall {
    checkSizes("gather", { ...s });
    return {
      pipeline: this.pipeline("gather", { elem }),
      label: `gather [${s.groups},${s.r}] of [${s.t},${s.d}]`,
      params: new Uint8Array(new Uint32Array([s.groups, s.r, s.t, s.d]).buffer),
      groups: groups1d(Math.ceil((s.groups * s.r * s.d) / this.wg)),
    };
  }
}
