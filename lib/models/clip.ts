/**
 * A CLIP model in the layout of `immich-app/RN50__openai`: `visual/model.onnx` (`image` [N,3,224,224] ->
 * `embedding`), `textual/model.onnx` (`text` int32 or int64 [N,77] -> `embedding`) and
 * `textual/tokenizer.json`. Embeddings are L2-normalised by our cosine step whatever the graph does.
 *
 * @module
 */
import { readOnnx } from "../onnx/external.ts";
import { ClipcmpError } from "../errors.ts";
import type { RgbaImage } from "../image/decode.ts";
import { CLIP_RECIPE } from "../preprocess/recipe.ts";
import { gpuBufferOf, ModelSession, type SessionOptions, type TensorInfo } from "../ort/session.ts";
import { ClipTokenizer, CONTEXT_LENGTH } from "../text/tokenizer.ts";
import { rewriteBatchDynamic } from "../onnx/batch.ts";
import {
  releaseVisionBuffers,
  type Rows,
  runVision,
  type RunVisionOptions,
  tryVisionBatchRewrite,
  validateVisionGraph,
  type VisionGraph,
} from "./vision.ts";

/** Options of {@linkcode ClipModel.load} besides the EP. */
export interface ClipLoadOptions {
  /** Rewrite batch-1 graphs (both towers) to a dynamic batch (default true); used only if they reproduce the original. */
  batchRewrite?: boolean;
  /** One-line notes (stderr). */
  log?: (line: string) => void;
}

/**
 * Rewrites a batch-1 text tower to a dynamic batch and checks that two prompts run together give what each gives
 * alone in the original graph. Returns the rewritten session, or null (with nothing left open) when it does not.
 */
async function tryBatchRewrite(
  textual: ModelSession,
  input: TensorInfo,
  output: TensorInfo,
  tokenizer: ClipTokenizer,
  options: SessionOptions,
): Promise<ModelSession | null> {
  let candidate: ModelSession | null = null;
  try {
    const { model } = rewriteBatchDynamic(await readOnnx(textual.path));
    candidate = await ModelSession.fromBytes(textual.path, textual.sha256, model, options);
    const ids = ["a photo of a dog.", "a sketch of a bald eagle, seen from far away."].map((p) =>
      tokenizer.encode(p).ids
    );
    const toData = (rows: number[][]) =>
      input.type === "int64" ? BigInt64Array.from(rows.flat(), BigInt) : Int32Array.from(rows.flat());
    const one = async (s: ModelSession, rows: number[][]) => {
      const out = await s.run({
        [input.name]: { type: input.type, data: toData(rows), dims: [rows.length, CONTEXT_LENGTH] },
      });
      const data = Float32Array.from((await out[output.name]!.getData()) as Float32Array);
      for (const t of Object.values(out)) t.dispose();
      return data;
    };
    const together = await one(candidate, ids);
    const alone = [...await one(textual, [ids[0]!]), ...await one(textual, [ids[1]!])];
    if (together.length !== alone.length) throw new Error("output size differs");
    for (let i = 0; i < alone.length; i++) {
      if (!(Math.abs(together[i]! - alone[i]!) <= 1e-4)) throw new Error("outputs differ");
    }
    return candidate;
  } catch {
    await candidate?.release();
    return null;
  }
}

/**
 * A warning for a tower whose graph computes exact GELU (`Erf` nodes): OpenAI's CLIP weights were trained with
 * QuickGELU, so such an export (open_clip ≥ 2.29 builds `RN50` and `ViT-B-32` with exact GELU, and immich
 * exports that way) is not OpenAI's model. Null when the graph has no `Erf`.
 *
 * @param session A loaded tower.
 * @returns The note, or null.
 */
export function activationNote(session: ModelSession): string | null {
  const erf = session.ops.Erf ?? 0;
  if (!erf) return null;
  return `exact GELU (${erf} Erf node${
    erf > 1 ? "s" : ""
  }), not OpenAI's QuickGELU: not OpenAI's activation, so outputs differ from OpenAI's CLIP (the default clip-rn50 is built from OpenAI's weights with QuickGELU)`;
}

/** CLIP's logit scale: probabilities are softmax(100 * cos). */
export const CLIP_LOGIT_SCALE = 100;

/** A loaded CLIP pair and its tokenizer. */
export class ClipModel {
  private constructor(
    /** The model directory. */
    readonly dir: string,
    /** The image tower. */
    readonly visual: VisionGraph,
    /** The text tower. */
    readonly textual: ModelSession,
    /** The text tower's input. */
    readonly textInput: TensorInfo,
    /** The text tower's output. */
    readonly textOutput: TensorInfo,
    /** Fixed text batch, or null when dynamic. */
    readonly textBatch: number | null,
    /** The tokenizer. */
    readonly tokenizer: ClipTokenizer,
    /** The session that encodes prompts: the text tower, or its batch-rewritten copy. */
    readonly textRun: ModelSession,
  ) {}

  /**
   * Loads `dir/visual/model.onnx`, `dir/textual/model.onnx` and `dir/textual/tokenizer.json` and checks that
   * their inputs, outputs and embedding widths fit together.
   *
   * @example
   * ```ts ignore
   * const clip = await ClipModel.load("models/fixtures/clip-tiny", { ep: "wasm" });
   * ```
   * @param dir The model directory.
   * @param options EP and GPU context.
   * @returns The model.
   */
  static async load(dir: string, options: SessionOptions & ClipLoadOptions): Promise<ClipModel> {
    try {
      if (!(await Deno.stat(dir)).isDirectory) throw new ClipcmpError(`--clip "${dir}": not a directory`);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new ClipcmpError(`--clip "${dir}": no such directory`);
      throw err;
    }
    const tokenizer = await ClipTokenizer.load(`${dir}/textual/tokenizer.json`);
    const visualSession = await ModelSession.load(`${dir}/visual/model.onnx`, options);
    let visual = validateVisionGraph(
      visualSession,
      CLIP_RECIPE.crop,
      visualSession.outputs.find((o) => o.name === "embedding")?.name,
    );
    if (visual.batch === 1 && options.batchRewrite !== false) {
      const rewritten = await tryVisionBatchRewrite(visual, CLIP_RECIPE.crop, options);
      if (rewritten) {
        await visualSession.release();
        visual = rewritten;
        options.log?.(`image tower: batch rewritten from 1 to dynamic (outputs verified against the original)`);
      } else options.log?.(`image tower: batch fixed at 1 (the rewrite did not reproduce the original)`);
    }
    const textual = await ModelSession.load(`${dir}/textual/model.onnx`, options);
    const file = textual.path;
    if (textual.inputs.length !== 1) {
      throw new ClipcmpError(`Model "${file}" has ${textual.inputs.length} inputs; a CLIP text tower has one`);
    }
    const textInput = textual.inputs[0]!;
    if (textInput.type !== "int32" && textInput.type !== "int64") {
      throw new ClipcmpError(
        `Model "${file}" input "${textInput.name}" is ${textInput.type}, expected int32 or int64 token ids`,
      );
    }
    const ctx = textInput.shape[1];
    if (textInput.shape.length !== 2 || (typeof ctx === "number" && ctx !== CONTEXT_LENGTH)) {
      throw new ClipcmpError(
        `Model "${file}" input "${textInput.name}" has shape [${textInput.shape.join(",")}], expected [N,77]`,
      );
    }
    const textOutput = textual.outputs.find((o) => o.name === "embedding") ?? textual.outputs[0];
    if (!textOutput || textOutput.shape.length !== 2 || textOutput.type !== "float32") {
      throw new ClipcmpError(`Model "${file}" has no float32 [N,D] output`);
    }
    if (textOutput.shape[1] !== visual.width) {
      throw new ClipcmpError(
        `Model "${file}" embeds to ${textOutput.shape[1]} dims but "${visualSession.path}" to ${visual.width}`,
      );
    }
    const b = textInput.shape[0];
    let batch = typeof b === "number" && b > 0 ? b : null;
    let textRun = textual;
    if (batch === 1 && options.batchRewrite !== false) {
      const rewritten = await tryBatchRewrite(textual, textInput, textOutput, tokenizer, options);
      if (rewritten) {
        textRun = rewritten;
        batch = null;
        options.log?.(`text tower: batch rewritten from 1 to dynamic (outputs verified against the original)`);
      } else {options.log?.(
          `text tower: batch fixed at 1 (the rewrite did not reproduce the original), one prompt per run`,
        );}
    }
    for (const [tower, s] of [["image", visual.session], ["text", textual]] as const) {
      const note = activationNote(s);
      if (note) options.log?.(`${tower} tower ${s.path}: ${note}`);
    }
    return new ClipModel(dir, visual, textual, textInput, textOutput, batch, tokenizer, textRun);
  }

  /** Embedding width (1024 for RN50). */
  get dim(): number {
    return this.visual.width;
  }

  /**
   * Image embeddings, CLIP-preprocessed.
   *
   * @param images Decoded images.
   * @param options Batch size and stage clock.
   * @returns [n, dim] rows, on the GPU for webgpu.
   */
  encodeImages(images: readonly RgbaImage[], options?: RunVisionOptions): Promise<Rows> {
    return runVision(this.visual, images, CLIP_RECIPE, options);
  }

  /**
   * Text embeddings of prompts. Prompts over 77 tokens are truncated (EOT kept) and reported in `truncated`.
   *
   * @param prompts The prompts.
   * @returns [n, dim] rows, and the indices of truncated prompts.
   */
  async encodeTexts(prompts: readonly string[]): Promise<{ rows: Rows; truncated: number[] }> {
    const n = prompts.length;
    const d = this.dim;
    const truncated: number[] = [];
    const ids = prompts.map((p, i) => {
      const e = this.tokenizer.encode(p);
      if (e.truncated) truncated.push(i);
      return e.ids;
    });
    const gpu = this.textRun.gpuContext;
    // 256 prompts per run on a GPU (the H100 measurements: 1.65 ms per prompt at 256, 13x batch 1), 64 on wasm.
    const bs = this.textBatch ?? Math.min(gpu ? 256 : 64, Math.max(1, n));
    const result = gpu
      ? gpu.device.createBuffer({
        label: `text embeddings (${this.textual.path})`,
        size: n * d * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      })
      : null;
    const cpu = gpu ? null : new Float32Array(n * d);
    try {
      for (let i = 0; i < n; i += bs) {
        const chunk = ids.slice(i, i + bs);
        const rows = this.textBatch ?? chunk.length;
        const flat = new Array<number>(rows * CONTEXT_LENGTH).fill(0);
        chunk.forEach((row, j) => row.forEach((v, k) => (flat[j * CONTEXT_LENGTH + k] = v)));
        const data = this.textInput.type === "int64" ? BigInt64Array.from(flat, BigInt) : Int32Array.from(flat);
        const out = await this.textRun.run({
          [this.textInput.name]: { type: this.textInput.type, data, dims: [rows, CONTEXT_LENGTH] },
        });
        const t = out[this.textOutput.name]!;
        if (gpu && result) {
          const enc = gpu.device.createCommandEncoder({ label: "gather text embeddings" });
          enc.copyBufferToBuffer(gpuBufferOf(t), 0, result, i * d * 4, chunk.length * d * 4);
          gpu.device.queue.submit([enc.finish()]);
        } else {
          cpu!.set((await t.getData() as Float32Array).subarray(0, chunk.length * d), i * d);
        }
        for (const o of Object.values(out)) o.dispose();
      }
    } catch (err) {
      result?.destroy();
      throw err;
    }
    const rows: Rows = result
      ? { where: "gpu", buffer: result, rows: n, width: d, device: gpu!.device }
      : { where: "cpu", data: cpu!, rows: n, width: d };
    return { rows, truncated };
  }

  /** Releases the sessions. */
  async release(): Promise<void> {
    releaseVisionBuffers(this.visual);
    await this.visual.session.release();
    await this.textual.release();
    if (this.textRun !== this.textual) await this.textRun.release();
  }

  /** `await using clip = await ClipModel.load(…)` releases it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
