/**
 * `--device` and `--dtype`: one table and one parser for every task that runs models or kernels.
 *
 * @module
 */
import { DEVICE_CHOICES, type DeviceChoice } from "../device.ts";
import { type Engine, ENGINES } from "../ort/session.ts";
import { oneOf } from "./run.ts";
import { UsageError } from "../errors.ts";

/** `--device auto|webgpu|wasm`. */
export const DEVICE_FLAG = { device: { type: "string", default: "auto" } } as const;

/** `--engine ort|wgsl`: onnxruntime-web, or clipcmp's own WGSL engine (webgpu only). */
export const ENGINE_FLAG = { engine: { type: "string", default: "ort" } } as const;

/** `--dtype fp32|fp16`. */
export const DTYPE_FLAG = { dtype: { type: "string", default: "fp32" } } as const;

/** The precisions every task spells the same. */
export const DTYPES = ["fp32", "fp16"] as const;

/**
 * The checked `--device`, `--engine` and `--dtype` values.
 *
 * @example
 * ```ts
 * import { deviceFlags } from "./device_flags.ts";
 * const f = deviceFlags({ device: "wasm", dtype: "fp16" });
 * if (f.device !== "wasm" || f.dtype !== "fp16" || f.engine !== "ort") throw new Error();
 * ```
 * @param v Parsed flag values.
 * @returns The device choice, engine and precision.
 */
export function deviceFlags(
  v: Record<string, unknown>,
): { device: DeviceChoice; engine: Engine; dtype: typeof DTYPES[number] } {
  const device = oneOf("--device", String(v.device ?? "auto"), DEVICE_CHOICES);
  const engine = oneOf("--engine", String(v.engine ?? "ort"), ENGINES);
  if (engine === "wgsl" && device === "wasm") {
    throw new UsageError("--engine wgsl runs on webgpu; use --device webgpu (or auto) with it, or --engine ort");
  }
  return { device, engine, dtype: oneOf("--dtype", String(v.dtype ?? "fp32"), DTYPES) };
}
