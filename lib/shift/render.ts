/**
 * The shift renderer for a task: the WGSL shift kernels on a GPU, checked for what the precision needs.
 *
 * @module
 */
import { GpuShift } from "../../kernels/shift.ts";
import type { GpuContext } from "../gpu/context.ts";
import { ClipcmpError } from "../errors.ts";

/**
 * Builds the renderer, or says in one line why it cannot (no adapter; f16 without `shader-f16`).
 *
 * @example
 * ```ts ignore
 * using r = shiftRenderer(gpu, "f32");
 * const [sketch] = await r.render([img], "sketch", 3, 0);
 * ```
 * @param gpu The GPU, or null when none was found.
 * @param precision Arithmetic of the kernels.
 * @returns The renderer; release it when done.
 */
export function shiftRenderer(gpu: GpuContext | null, precision: "f32" | "f16"): GpuShift {
  if (!gpu) throw new ClipcmpError("The shifts are WebGPU kernels and no WebGPU adapter was found");
  if (precision === "f16" && !gpu.summary.f16) {
    throw new ClipcmpError(`--precision f16: ${gpu.summary.f16Reason ?? "this adapter has no shader-f16"}`);
  }
  return new GpuShift(gpu.device, precision);
}
