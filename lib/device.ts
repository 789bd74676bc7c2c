/**
 * `--device auto|webgpu|wasm`: which execution provider runs the models and whether our kernels use the GPU.
 *
 * @module
 */
import { describeAdapter, type GpuContext, requestGpu } from "./gpu/context.ts";
import type { Engine, Ep } from "./ort/session.ts";
import { ClipcmpError } from "./errors.ts";

/** The `--device` choices. */
export const DEVICE_CHOICES = ["auto", "webgpu", "wasm"] as const;
/** A `--device` choice. */
export type DeviceChoice = typeof DEVICE_CHOICES[number];

/** The resolved device. */
export interface ResolvedDevice {
  /** The EP the models run on. */
  ep: Ep;
  /** The GPU context when `ep` is webgpu; null with wasm, where our kernels use their CPU path. */
  gpu: GpuContext | null;
  /** One line: what was chosen and why. */
  reason: string;
  /** The adapter line, when an adapter was seen. */
  adapter: string | null;
  /** What runs the models: onnxruntime-web, or the WGSL engine (webgpu only). */
  engine: Engine;
}

/**
 * Resolves `--device`. `auto` picks webgpu on a hardware adapter, and wasm on a fallback adapter (software
 * WebGPU is 7-10x slower than wasm) or with no adapter.
 *
 * @example
 * ```ts ignore
 * const d = await resolveDevice("auto");
 * console.error(d.reason);
 * ```
 * @param choice The flag's value.
 * @param engine `--engine`: `wgsl` needs webgpu, so `auto` takes any adapter, a fallback one too.
 * @returns The device.
 */
export async function resolveDevice(choice: DeviceChoice, engine: Engine = "ort"): Promise<ResolvedDevice> {
  const d = await resolveEp(choice, engine);
  return engine === "wgsl"
    ? { ...d, engine, reason: `${d.reason}; engine: wgsl (clipcmp's WGSL kernels)` }
    : { ...d, engine };
}

async function resolveEp(choice: DeviceChoice, engine: Engine): Promise<Omit<ResolvedDevice, "engine">> {
  if (choice === "wasm") {
    if (engine === "wgsl") throw new ClipcmpError("--engine wgsl runs on webgpu; it cannot run with --device wasm");
    return { ep: "wasm", gpu: null, reason: "device: wasm (requested; kernels run on the CPU)", adapter: null };
  }
  const gpu = await requestGpu();
  if (choice === "webgpu" || engine === "wgsl") {
    if (!gpu) {
      throw new ClipcmpError(
        `${
          choice === "webgpu" ? "--device webgpu" : "--engine wgsl"
        }: no WebGPU adapter found (install mesa-vulkan-drivers for a software adapter, or use ${
          choice === "webgpu" ? "--device wasm" : "--engine ort"
        })`,
      );
    }
    const line = describeAdapter(gpu.summary);
    return {
      ep: "webgpu",
      gpu,
      reason: `device: webgpu (${choice === "webgpu" ? "requested" : "needed by --engine wgsl"}) on ${line}`,
      adapter: line,
    };
  }
  if (!gpu) return { ep: "wasm", gpu: null, reason: "device: wasm (auto: no WebGPU adapter found)", adapter: null };
  const line = describeAdapter(gpu.summary);
  if (gpu.summary.fallback) {
    gpu.destroy();
    return {
      ep: "wasm",
      gpu: null,
      reason:
        `device: wasm (auto: ${gpu.summary.name} is a fallback adapter, slower than wasm; pass --device webgpu to use it)`,
      adapter: line,
    };
  }
  return { ep: "webgpu", gpu, reason: `device: webgpu (auto: hardware adapter ${line})`, adapter: line };
}
