/**
 * The GPU context: one adapter and device shared by our WGSL kernels and onnxruntime-web's WebGPU EP.
 * It requests `shader-f16` and `timestamp-query` when the adapter has them, runs the f16 self-test before any
 * f16 path is trusted, labels what it creates and watches `device.lost`.
 *
 * @module
 */
import selftestSrc from "../../kernels/f16_selftest.wgsl" with { type: "text" };
import { createBufferWith, readBuffer } from "./readback.ts";
import { fault } from "../faults.ts";

/** What we know about the adapter, for one-line reports and provenance. */
export interface AdapterSummary {
  /** Adapter description, e.g. `llvmpipe (LLVM 15.0.6, 256 bits)` or `NVIDIA H100 80GB HBM3`. */
  name: string;
  /** True for software adapters such as llvmpipe. */
  fallback: boolean;
  /** True when `shader-f16` is present and the self-test passed. */
  f16: boolean;
  /** Why f16 is off, when it is. */
  f16Reason?: string;
  /** True when `timestamp-query` is enabled on the device. */
  timestampQuery: boolean;
}

/** An adapter, its device and what they support. */
export interface GpuContext {
  /** The adapter. */
  adapter: GPUAdapter;
  /** The device shared with onnxruntime-web. */
  device: GPUDevice;
  /** The summary line's facts. */
  summary: AdapterSummary;
  /** Set once the device is lost; every GPU step checks it. */
  lost: GPUDeviceLostInfo | null;
  /** Throws when the device has been lost, naming the reason. */
  assertAlive(): void;
  /** Destroys the device. */
  destroy(): void;
}

/** Thrown when the device was lost mid-run. */
export class DeviceLostError extends Error {
  /**
   * @param info The loss info from `device.lost`.
   */
  constructor(info: GPUDeviceLostInfo) {
    super(`GPU device lost (${info.reason}): ${info.message || "no message"}`);
    this.name = "DeviceLostError";
  }
}

/**
 * Requests an adapter and device. Returns `null` when WebGPU or an adapter is unavailable.
 *
 * @example Get a device and print the adapter line
 * ```ts ignore
 * const gpu = await requestGpu();
 * console.log(gpu ? describeAdapter(gpu.summary) : "no adapter");
 * ```
 * @param options `powerPreference` for the adapter request.
 * @returns The context, or null.
 */
export async function requestGpu(options: { powerPreference?: GPUPowerPreference } = {}): Promise<GpuContext | null> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) return null;
  if (fault("no-adapter") !== undefined) return null;
  const adapter = await navigator.gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (!adapter) return null;
  const wanted: GPUFeatureName[] = ["shader-f16", "timestamp-query"];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    label: "clipcmp device",
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
    },
  });
  const info = adapter.info;
  const summary: AdapterSummary = {
    name: info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(" ") ||
      "unknown adapter",
    fallback: Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    f16: false,
    timestampQuery: device.features.has("timestamp-query"),
  };
  const ctx: GpuContext = {
    adapter,
    device,
    summary,
    lost: null,
    assertAlive() {
      if (ctx.lost) throw new DeviceLostError(ctx.lost);
    },
    destroy() {
      device.destroy();
    },
  };
  device.lost.then((lostInfo) => {
    ctx.lost = lostInfo;
    if (lostInfo.reason !== "destroyed") console.error(`clipcmp: ${new DeviceLostError(lostInfo).message}`);
  });
  if (fault("no-f16") !== undefined) {
    summary.f16Reason = "adapter lacks shader-f16 (injected by CLIPCMP_FAULTS=no-f16)";
  } else if (device.features.has("shader-f16")) {
    const failure = await f16SelfTest(device);
    summary.f16 = failure === null;
    if (failure) summary.f16Reason = `self-test failed: ${failure}`;
  } else {
    summary.f16Reason = "adapter lacks shader-f16";
  }
  return ctx;
}

/** Inputs of the self-test, exactly representable in f16; x * 2 is exact too, and + 0.5 rounds once. */
const SELFTEST_INPUT = [1.5, -2.25, 1000, 0.099975586, -0.00048828125, 3.140625, 65.5, -7.75];

function f16round(v: number): number {
  return new Float16Array([v])[0]!;
}

/**
 * Runs the f16 self-test kernel and checks its results exactly.
 *
 * @param device A device with `shader-f16` enabled.
 * @returns null when f16 works, else what went wrong.
 */
export async function f16SelfTest(device: GPUDevice): Promise<string | null> {
  const n = SELFTEST_INPUT.length;
  const x = new Float16Array(SELFTEST_INPUT);
  const input = createBufferWith(device, "f16 self-test input", new Uint16Array(x.buffer), GPUBufferUsage.STORAGE);
  const out16 = device.createBuffer({
    label: "f16 self-test out16",
    size: Math.ceil((n * 2) / 4) * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const out32 = device.createBuffer({
    label: "f16 self-test out32",
    size: n * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  try {
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ label: "f16 self-test", code: selftestSrc });
    const pipeline = device.createComputePipeline({
      label: "f16 self-test",
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    const bind = device.createBindGroup({
      label: "f16 self-test",
      layout: pipeline.getBindGroupLayout(0),
      entries: [input, out16, out32].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = device.createCommandEncoder({ label: "f16 self-test" });
    const pass = enc.beginComputePass({ label: "f16 self-test" });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bind);
    pass.dispatchWorkgroups(1);
    pass.end();
    device.queue.submit([enc.finish()]);
    const err = await device.popErrorScope();
    if (err) return err.message.split("\n")[0] ?? "validation error";
    const got16 = new Float16Array(await readBuffer(device, out16, 0, out16.size)).subarray(0, n);
    const got32 = new Float32Array(await readBuffer(device, out32, 0, out32.size));
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      const want16 = f16round(xi * 2 + 0.5);
      if (got32[i] !== xi) return `f16->f32 conversion gave ${got32[i]} for ${xi}`;
      if (got16[i] !== want16) return `f16 arithmetic gave ${got16[i]} for ${xi} * 2 + 0.5, expected ${want16}`;
    }
    return null;
  } catch (err) {
    return err instanceof Error ? err.message.split("\n")[0]! : String(err);
  } finally {
    input.destroy();
    out16.destroy();
    out32.destroy();
  }
}

/**
 * One line describing the adapter: name, fallback or not, f16 yes/no.
 *
 * @example
 * ```ts
 * import { describeAdapter } from "./context.ts";
 * const line = describeAdapter({ name: "llvmpipe", fallback: true, f16: true, timestampQuery: true });
 * if (line !== "llvmpipe · fallback adapter · f16 yes · timestamps yes") throw new Error(line);
 * ```
 * @param s The adapter summary.
 * @returns The line.
 */
export function describeAdapter(s: AdapterSummary): string {
  return [
    s.name,
    s.fallback ? "fallback adapter" : "hardware adapter",
    s.f16 ? "f16 yes" : `f16 no${s.f16Reason ? ` (${s.f16Reason})` : ""}`,
    s.timestampQuery ? "timestamps yes" : "timestamps no",
  ].join(" · ");
}
