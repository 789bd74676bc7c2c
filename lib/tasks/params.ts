/**
 * The params task's core, for the CLI (`deno task params`) and scripts alike: parameter counts of the chosen models,
 * read from their safetensors weights where the models were built from them, else from their ONNX files.
 *
 * @module
 */
import { readOnnx } from "../onnx/external.ts";
import { ClipcmpError, firstLine } from "../errors.ts";
import type { ChosenModels } from "../models/resolve.ts";
import { countParams, type ParamCount } from "../onnx/params.ts";
import { countStateDictParams, type StateDictPart } from "../weights/params.ts";
import { readSafetensors } from "../weights/safetensors.ts";
import { sha256File } from "../fs.ts";
import { docHeader } from "../envelope.ts";

/** One file's counts, with the file. */
export type CountedModel = ParamCount & { path: string; sha256: string };

/** The params document (`deno task params --json`; docs/schemas/params.schema.json). */
export interface ParamsDocument {
  tool: "clipcmp";
  version: string;
  task: "params";
  models: { clip_visual?: CountedModel; clip_textual?: CountedModel; resnet?: CountedModel };
  /** CLIP's visual plus text parameters, when both were counted. */
  clip_total: number | null;
  /** CLIP's visual parameters minus the ResNet's, when both were counted. */
  difference_visual_minus_resnet: number | null;
}

async function countOnnx(path: string): Promise<CountedModel> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await readOnnx(path);
  } catch (err) {
    if (err instanceof ClipcmpError) throw err;
    throw new ClipcmpError(
      `Cannot read model "${path}": ${err instanceof Deno.errors.NotFound ? "file not found" : firstLine(err)}`,
    );
  }
  try {
    return { path, sha256: await sha256File(bytes), ...countParams(bytes) };
  } catch (err) {
    throw new ClipcmpError(`Cannot read model "${path}": ${firstLine(err)}`);
  }
}

async function countWeights(path: string, part: StateDictPart): Promise<CountedModel> {
  const bytes = await Deno.readFile(path);
  const st = await readSafetensors(path);
  return { path, sha256: await sha256File(bytes), ...countStateDictParams(st, part) };
}

/**
 * Counts the chosen models' parameters (PyTorch-equivalent, with the raw stored element counts beside them).
 *
 * @param chosen The resolved models.
 * @returns The document.
 */
export async function runParams(chosen: ChosenModels): Promise<ParamsDocument> {
  const models: ParamsDocument["models"] = {};
  if (chosen.clip?.weights) {
    models.clip_visual = await countWeights(chosen.clip.weights, "clip_visual");
    models.clip_textual = await countWeights(chosen.clip.weights, "clip_textual");
  } else if (chosen.clip) {
    models.clip_visual = await countOnnx(`${chosen.clip.dir}/visual/model.onnx`);
    models.clip_textual = await countOnnx(`${chosen.clip.dir}/textual/model.onnx`);
  }
  if (chosen.resnet?.weights) models.resnet = await countWeights(chosen.resnet.weights, "all");
  else if (chosen.resnet) models.resnet = await countOnnx(chosen.resnet.source.model);
  const clipTotal = models.clip_visual && models.clip_textual
    ? models.clip_visual.pytorch_equivalent + models.clip_textual.pytorch_equivalent
    : null;
  const difference = models.clip_visual && models.resnet
    ? models.clip_visual.pytorch_equivalent - models.resnet.pytorch_equivalent
    : null;
  return { ...docHeader("params"), models, clip_total: clipTotal, difference_visual_minus_resnet: difference };
}

/**
 * Whether a counted tower is mostly convolution (OpenAI's modified ResNet) rather than matrix products (a ViT).
 *
 * @param m A counted model.
 * @returns True when Conv parameters outweigh MatMul and Gemm ones.
 */
export function isConvolutional(m: { by_op: Record<string, number> }): boolean {
  return (m.by_op.Conv ?? 0) > (m.by_op.MatMul ?? 0) + (m.by_op.Gemm ?? 0);
}
