/**
 * Runs an image model over decoded images: preprocessing (GPU kernel or CPU path), batching to the graph's
 * batch size, and collecting one output row per image. On webgpu the images go from our kernel's buffer into
 * the model and the outputs are gathered into one GPU buffer, with no CPU round trip.
 *
 * @module
 */
import { readOnnx } from "../onnx/external.ts";
import type { RgbaImage } from "../image/decode.ts";
import type { Recipe } from "../preprocess/recipe.ts";
import { preprocessCpu } from "../preprocess/cpu.ts";
import { GpuPreprocessor } from "../../kernels/preprocess.ts";
import { gpuBufferOf, ModelSession, type SessionOptions, type TensorInfo } from "../ort/session.ts";
import { rewriteBatchDynamic } from "../onnx/batch.ts";
import { ClipcmpError } from "../errors.ts";

/** Rows of model output, on the CPU or the GPU. */
export type Rows =
  | { where: "cpu"; data: Float32Array; rows: number; width: number }
  | {
    where: "gpu";
    buffer: GPUBuffer;
    rows: number;
    width: number; /** The device owning the buffer. */
    device: GPUDevice;
  };

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

/**
 * Rewrites an image graph whose batch is fixed at 1 (like the published immich and qualcomm exports) to a dynamic
 * batch, and keeps the result only if two different images run together give, within 1e-3 (relative to the
 * output's size), what each gives alone in the original graph. Conv nets that flatten per image pass; graphs that
 * bake the batch into other shapes (torch's seq-first attention pooling, say) fail the check and stay at batch 1.
 *
 * @param graph The validated batch-1 graph.
 * @param crop The input's crop size.
 * @param options How to open the rewritten session (same EP and device as the original).
 * @returns The rewritten graph, or null (with nothing left open) when the rewrite does not reproduce the original.
 */
export async function tryVisionBatchRewrite(
  graph: VisionGraph,
  crop: number,
  options: SessionOptions,
): Promise<VisionGraph | null> {
  if (graph.batch !== 1) return null;
  let candidate: ModelSession | null = null;
  try {
    const { model } = rewriteBatchDynamic(await readOnnx(graph.session.path));
    candidate = await ModelSession.fromBytes(graph.session.path, graph.session.sha256, model, options);
    const rewritten = validateVisionGraph(candidate, crop, graph.output.name);
    if (rewritten.batch !== null) throw new Error("batch still fixed");
    const plane = 3 * crop * crop;
    const x = Float32Array.from({ length: 2 * plane }, (_, i) => Math.sin(i * 0.37) * (i < plane ? 1 : -0.5));
    const run = async (g: VisionGraph, data: Float32Array, n: number) => {
      const out = await g.session.run({ [g.input.name]: { type: "float32", data, dims: [n, 3, crop, crop] } });
      const y = Float32Array.from((await out[g.output.name]!.getData()) as Float32Array);
      for (const t of Object.values(out)) t.dispose();
      return y;
    };
    const together = await run(rewritten, x, 2);
    const alone = [...await run(graph, x.slice(0, plane), 1), ...await run(graph, x.slice(plane), 1)];
    if (together.length !== alone.length) throw new Error("output size differs");
    const scale = Math.max(1, ...alone.map(Math.abs));
    for (let i = 0; i < alone.length; i++) {
      if (!(Math.abs(together[i]! - alone[i]!) <= 1e-3 * scale)) throw new Error("outputs differ");
    }
    return rewritten;
  } catch {
    await candidate?.release();
    return null;
  }
}

/** Largest batch we send to a dynamic-batch graph in one run, unless the caller asks for another. */
export const MAX_DYNAMIC_BATCH = 16;

/** Milliseconds spent on the main thread per stage; {@linkcode runVision} adds to the fields it knows. */
export interface StageClock {
  /** Copying source windows to the GPU and submitting the preprocessing kernel (or the CPU path on wasm). */
  upload: number;
  /** Waiting for the model runs. */
  model: number;
}

/** How {@linkcode runVision} batches and what it reports. */
export interface RunVisionOptions {
  /** Images per model run for dynamic-batch graphs (default {@linkcode MAX_DYNAMIC_BATCH}). */
  maxBatch?: number;
  /** Stage times are added here. */
  clock?: StageClock;
}

/** Model input buffers kept between calls, per graph and batch size (the model reads them in queue order). */
const inputBuffers = new WeakMap<VisionGraph, Map<number, GPUBuffer>>();
const preprocessors = new WeakMap<GPUDevice, GpuPreprocessor>();

/**
 * Frees the input buffers {@linkcode runVision} keeps for `graph`, and the preprocessing upload buffers.
 *
 * @param graph The graph.
 */
export function releaseVisionBuffers(graph: VisionGraph): void {
  for (const b of inputBuffers.get(graph)?.values() ?? []) b.destroy();
  inputBuffers.delete(graph);
  // The device's preprocessor keeps upload buffers between runs; it rebuilds them if another model still uses it.
  const device = graph.session.gpuContext?.device;
  if (device) preprocessors.get(device)?.release();
}

/**
 * Runs `graph` over `images` with `recipe`.
 *
 * On webgpu the work is only submitted: the rows come back as a GPU buffer that later kernels read in queue
 * order, so the caller can prepare the next batch while the GPU is still busy with this one.
 *
 * @param graph The validated graph.
 * @param images Decoded images.
 * @param recipe The preprocessing recipe.
 * @param options Batch size and stage clock.
 * @returns One output row per image: on the GPU for webgpu sessions, else on the CPU.
 */
export async function runVision(
  graph: VisionGraph,
  images: readonly RgbaImage[],
  recipe: Recipe,
  options: RunVisionOptions = {},
): Promise<Rows> {
  const { session, input, output, width } = graph;
  const maxBatch = options.maxBatch ?? MAX_DYNAMIC_BATCH;
  const bs = graph.batch ?? Math.min(maxBatch, Math.max(1, images.length));
  const plane = 3 * recipe.crop * recipe.crop;
  const clock = options.clock;
  let t = performance.now();
  const lap = (stage: keyof StageClock) => {
    const now = performance.now();
    if (clock) clock[stage] += now - t;
    t = now;
  };
  const gpu = session.gpuContext;
  if (!gpu) {
    const data = new Float32Array(images.length * width);
    const x = new Float32Array(bs * plane);
    for (let i = 0; i < images.length; i += bs) {
      const chunk = images.slice(i, i + bs);
      const n = graph.batch ?? chunk.length;
      x.fill(0);
      chunk.forEach((img, j) => preprocessCpu(img, recipe, x, j));
      lap("upload");
      const out = await session.run({
        [input.name]: { type: "float32", data: x.subarray(0, n * plane), dims: [n, 3, recipe.crop, recipe.crop] },
      });
      const y = await out[output.name]!.getData() as Float32Array;
      data.set(y.subarray(0, chunk.length * width), i * width);
      for (const t of Object.values(out)) t.dispose();
      lap("model");
    }
    return { where: "cpu", data, rows: images.length, width };
  }
  const device = gpu.device;
  let pre = preprocessors.get(device);
  if (!pre) preprocessors.set(device, pre = new GpuPreprocessor(device, "f32"));
  let inputs = inputBuffers.get(graph);
  if (!inputs) inputBuffers.set(graph, inputs = new Map());
  const result = device.createBuffer({
    label: `${output.name} rows (${session.path})`,
    size: images.length * width * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  try {
    for (let i = 0; i < images.length; i += bs) {
      const chunk = images.slice(i, i + bs);
      const n = graph.batch ?? chunk.length;
      let buf = inputs.get(n);
      if (!buf) {
        buf = pre.createBatchBuffer(n, recipe.crop, `${input.name} batch of ${n} (${session.path})`);
        inputs.set(n, buf);
      }
      if (graph.batch !== null && chunk.length < n) device.queue.writeBuffer(buf, 0, new Float32Array(n * plane));
      const fallbacks = pre.run(chunk, recipe, buf);
      if (fallbacks) {
        console.error(
          `note: ${fallbacks} image(s) too large for this GPU's storage bindings were preprocessed on the CPU (same recipe and fixed-point arithmetic)`,
        );
      }
      lap("upload");
      const out = await session.run({
        [input.name]: { buffer: buf, type: "float32", dims: [n, 3, recipe.crop, recipe.crop] },
      });
      const enc = device.createCommandEncoder({ label: "gather model outputs" });
      enc.copyBufferToBuffer(gpuBufferOf(out[output.name]!), 0, result, i * width * 4, chunk.length * width * 4);
      device.queue.submit([enc.finish()]);
      for (const t of Object.values(out)) t.dispose();
      lap("model");
    }
  } catch (err) {
    result.destroy();
    throw err;
  }
  return { where: "gpu", buffer: result, rows: images.length, width, device };
}
