/**
 * `--device` and `--dtype`: one table and one parser for every task that runs models or kernels.
 *
 * @module
 */
import { DEVICE_CHOICES, type DeviceChoice } from "../device.ts";
import { oneOf } from "./run.ts";

/** `--device auto|webgpu|wasm`. */
export const DEVICE_FLAG = { device: { type: "string", default: "auto" } } as const;

/** `--dtype fp32|fp16`. */
export const DTYPE_FLAG = { dtype: { type: "string", default: "fp32" } } as const;

/** The precisions every task spells the same. */
export const DTYPES = ["fp32", "fp16"] as const;

/**
 * The checked `--device` and `--dtype` values.
 *
 * @example
 * ```ts
 * import { deviceFlags } from "./device_flags.ts";
 * const f = deviceFlags({ device: "wasm", dtype: "fp16" });
 * if (f.device !== "wasm" || f.dtype !== "fp16") throw new Error();
 * ```
 * @param v Parsed flag values.
 * @returns The device choice and precision.
 */
export function deviceFlags(v: Record<string, unknown>): { device: DeviceChoice; dtype: typeof DTYPES[number] } {
  return {
    device: oneOf("--device", String(v.device ?? "auto"), DEVICE_CHOICES),
    dtype: oneOf("--dtype", String(v.dtype ?? "fp32"), DTYPES),
  };
}
