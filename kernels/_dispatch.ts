/**
 * The plumbing every kernel driver shares: building a labelled compute pipeline from a WGSL source, and
 * encoding one dispatch with buffers bound in binding order.
 *
 * @module
 */
import { type GpuType, specializeAliases } from "./_specialize.ts";
import { createBufferWith } from "../lib/gpu/readback.ts";

/**
 * Creates a labelled compute pipeline with an auto layout.
 *
 * @param device The device.
 * @param label Pipeline and module label.
 * @param src WGSL source; specialised to `elem` when given.
 * @param entryPoint The entry point.
 * @param constants Override constants.
 * @param elem Element type to specialise `alias elem` to, or several aliases by name.
 * @returns The pipeline.
 */
export function createKernel(
  device: GPUDevice,
  label: string,
  src: string,
  entryPoint: string,
  constants: Record<string, number>,
  elem?: GpuType | Readonly<Record<string, GpuType>>,
): GPUComputePipeline {
  const types = typeof elem === "string" ? { elem } : elem;
  if (types && Object.values(types).includes("f16") && !device.features.has("shader-f16")) {
    throw new TypeError(`${label} in f16 needs the shader-f16 feature, which this device lacks`);
  }
  const code = types ? specializeAliases(src, types) : src;
  return device.createComputePipeline({
    label,
    layout: "auto",
    compute: { module: device.createShaderModule({ label, code }), entryPoint, constants },
  });
}

/**
 * Binds `buffers` to bindings 0..n-1 of group 0 and records one dispatch into `pass`.
 *
 * @param device The device.
 * @param pass An open compute pass.
 * @param pipeline The pipeline.
 * @param label Bind group label.
 * @param buffers Buffers in binding order; `[binding, buffer or {buffer, offset, size}]` pairs for sparse
 *   bindings or bound ranges.
 * @param groups Workgroup counts.
 */
export function encodeDispatch(
  device: GPUDevice,
  pass: GPUComputePassEncoder,
  pipeline: GPUComputePipeline,
  label: string,
  buffers: (GPUBuffer | [number, GPUBuffer | GPUBufferBinding])[],
  groups: [number, number?, number?],
): void {
  pass.setPipeline(pipeline);
  pass.setBindGroup(
    0,
    device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((b, i) => {
        const [binding, res] = Array.isArray(b) ? b : [i, b];
        return { binding, resource: res instanceof GPUBuffer ? { buffer: res } : res };
      }),
    }),
  );
  pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
}

/**
 * Encodes and submits one dispatch in its own command buffer.
 *
 * @param device The device.
 * @param pipeline The pipeline.
 * @param label Labels for the encoder, pass and bind group.
 * @param buffers Buffers in binding order.
 * @param groups Workgroup counts.
 */
export function submitDispatch(
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  label: string,
  buffers: GPUBuffer[],
  groups: [number, number?, number?],
): void {
  const enc = device.createCommandEncoder({ label });
  const pass = enc.beginComputePass({ label });
  encodeDispatch(device, pass, pipeline, label, buffers, groups);
  pass.end();
  device.queue.submit([enc.finish()]);
}

/**
 * One validated dispatch of a kernel, not yet bound to buffers: its pipeline, uniform parameters and workgroup
 * counts. A driver's `run()` binds it to fresh buffers and submits it at once; the engine binds it to its arena
 * once per plan and records it into the batch's single command encoder.
 */
export interface KernelCall {
  /** The pipeline. */
  pipeline: GPUComputePipeline;
  /** A label for the bind group and params buffer. */
  label: string;
  /** The uniform parameters (binding 0). */
  params: Uint8Array<ArrayBuffer>;
  /** Workgroup counts. */
  groups: [number, number, number];
  /** Floating-point operations it performs (multiply-adds count two), where the kernel does arithmetic worth counting. */
  flops?: number;
}

/** Workgroup counts for `n` one-dimensional workgroups, split over x and y within the 65535 per-axis limit. */
export function groups1d(n: number): [number, number, number] {
  return [Math.min(Math.max(n, 1), 65535), Math.ceil(Math.max(n, 1) / 65535), 1];
}

/**
 * Submits `call` with `buffers` bound after its params (binding 1 on), in its own command buffer.
 *
 * @param device The device.
 * @param call The call.
 * @param buffers The buffers for bindings 1..n.
 */
export function submitCall(device: GPUDevice, call: KernelCall, buffers: GPUBuffer[]): void {
  const params = createBufferWith(device, `${call.label} params`, call.params, GPUBufferUsage.UNIFORM);
  submitDispatch(device, call.pipeline, call.label, [params, ...buffers], call.groups);
  params.destroy();
}
