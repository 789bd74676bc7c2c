/**
 * Runs an image model over decoded images: preprocessing (GPU kernel or CPU path), batching to the graph's
 * batch size, and collecting one output row per image. On webgpu the images go from our kernel's buffer into
 * the model and the outputs are gathered into one GPU buffer, with no CPU round trip.
 *
 * @module
 */
import type { RgbaImage } from "../image/decode.ts";
import type { Recipe } from "../preprocess/recipe.ts";
import { preprocessCpu } from "../preprocess/cpu.ts";
import { GpuPreprocessor } from "../../kernels/preprocess.ts";
import { gpuBufferOf, type ModelSession, type TensorInfo } from "../ort/session.ts";
import { ClipcmpError } from "../errors.ts";

/** Rows of model output, on the CPU or the GPU. */
export type Rows =
  | { where: "cpu"; data: Float32Array; rows: number; width: number }
  | { where: "gpu"; buffer: GPUBuffer; rows: number; width: number };

/** An image model with validated input and output. */
export interface VisionGraph {
  /** The session. */
  session: ModelSession;
  /** The image input. */
  input: TensorInfo;
  /** The output used. */
  output: TensorInfo;
  /** Fixed batch size, or null for a dynamic batch axis. */
  batch: number | null;
  /** Output row width (1000 logits, 1024 embedding dims...). */
  width: number;
}

/**
 * Checks that a session takes one float image [N,3,crop,crop] and gives [N,width], naming the file if not.
 *
 * @param session The session.
 * @param crop The recipe's crop size.
 * @param outputName The output to use, or undefined for the first.
 * @returns The graph description.
 */
export function validateVisionGraph(session: ModelSession, crop: number, outputName?: string): VisionGraph {
  const file = session.path;
  if (session.inputs.length !== 1) {
    throw new ClipcmpError(`Model "${file}" has ${session.inputs.length} inputs; an image model has one`);
  }
  const input = session.inputs[0]!;
  if (input.type !== "float32") {
    throw new ClipcmpError(`Model "${file}" input "${input.name}" is ${input.type}, expected float32`);
  }
  const s = input.shape;
  const fixed = (d: number | string | undefined, want: number) => typeof d !== "number" || d < 0 || d === want;
  if (s.length !== 4 || !fixed(s[1], 3) || !fixed(s[2], crop) || !fixed(s[3], crop)) {
    throw new ClipcmpError(
      `Model "${file}" input "${input.name}" has shape [${s.join(",")}], expected [N,3,${crop},${crop}]`,
    );
  }
  const output = outputName ? session.outputs.find((o) => o.name === outputName) : session.outputs[0];
  if (!output) {
    throw new ClipcmpError(
      `Model "${file}" has no output "${outputName}" (it has ${session.outputs.map((o) => o.name).join(", ")})`,
    );
  }
  if (output.type !== "float32") {
    throw new ClipcmpError(`Model "${file}" output "${output.name}" is ${output.type}, expected float32`);
  }
  const width = output.shape[1];
  if (output.shape.length !== 2 || typeof width !== "number" || width < 1) {
    throw new ClipcmpError(
      `Model "${file}" output "${output.name}" has shape [${output.shape.join(",")}], expected [N,K]`,
    );
  }
  const b = s[0];
  return { session, input, output, batch: typeof b === "number" && b > 0 ? b : null, width };
}

/** Largest batch we send to a dynamic-batch graph in one run. */
export const MAX_DYNAMIC_BATCH = 16;

/**
 * Runs `graph` over `images` with `recipe`.
 *
 * @param graph The validated graph.
 * @param images Decoded images.
 * @param recipe The preprocessing recipe.
 * @returns One output row per image: on the GPU for webgpu sessions, else on the CPU.
 */
export async function runVision(graph: VisionGraph, images: readonly RgbaImage[], recipe: Recipe): Promise<Rows> {
  const { session, input, output, width } = graph;
  const bs = graph.batch ?? Math.min(MAX_DYNAMIC_BATCH, Math.max(1, images.length));
  const plane = 3 * recipe.crop * recipe.crop;
  const gpu = session.gpuContext;
  if (!gpu) {
    const data = new Float32Array(images.length * width);
    const x = new Float32Array(bs * plane);
    for (let i = 0; i < images.length; i += bs) {
      const chunk = images.slice(i, i + bs);
      const n = graph.batch ?? chunk.length;
      x.fill(0);
      chunk.forEach((img, j) => preprocessCpu(img, recipe, x, j));
      const out = await session.run({
        [input.name]: { type: "float32", data: x.subarray(0, n * plane), dims: [n, 3, recipe.crop, recipe.crop] },
      });
      const y = await out[output.name]!.getData() as Float32Array;
      data.set(y.subarray(0, chunk.length * width), i * width);
      for (const t of Object.values(out)) t.dispose();
    }
    return { where: "cpu", data, rows: images.length, width };
  }
  const device = gpu.device;
  const pre = new GpuPreprocessor(device, "f32");
  const result = device.createBuffer({
    label: `${output.name} rows (${session.path})`,
    size: images.length * width * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  const inputs: GPUBuffer[] = [];
  try {
    for (let i = 0; i < images.length; i += bs) {
      const chunk = images.slice(i, i + bs);
      const n = graph.batch ?? chunk.length;
      let buf = inputs[n];
      if (!buf) {
        buf = pre.createBatchBuffer(n, recipe.crop, `${input.name} batch of ${n} (${session.path})`);
        inputs[n] = buf;
      }
      if (graph.batch !== null && chunk.length < n) device.queue.writeBuffer(buf, 0, new Float32Array(n * plane));
      pre.run(chunk, recipe, buf);
      const out = await session.run({
        [input.name]: { buffer: buf, type: "float32", dims: [n, 3, recipe.crop, recipe.crop] },
      });
      const enc = device.createCommandEncoder({ label: "gather model outputs" });
      enc.copyBufferToBuffer(gpuBufferOf(out[output.name]!), 0, result, i * width * 4, chunk.length * width * 4);
      device.queue.submit([enc.finish()]);
      for (const t of Object.values(out)) t.dispose();
    }
  } catch (err) {
    result.destroy();
    throw err;
  } finally {
    for (const b of inputs) b?.destroy();
  }
  return { where: "gpu", buffer: result, rows: images.length, width };
}
