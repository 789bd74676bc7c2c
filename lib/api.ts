/**
 * The scripting API, shaped like transformers.js pipelines: `classify()` with an ImageNet ResNet and
 * `zeroShot()` with CLIP, each returning per image a `{ label, index, score }[]` sorted from high to low.
 *
 * @module
 */
import { type DeviceChoice, resolveDevice } from "./device.ts";
import { decodeImageFile, type RgbaImage } from "./image/decode.ts";
import { type ResnetInput, ResnetModel, resolveResnet } from "./models/resnet.ts";
import { CLIP_LOGIT_SCALE, ClipModel } from "./models/clip.ts";
import { classTopK, releaseRows, type TopKRows, zeroShotTopK } from "./scoring.ts";
import { buildHead, DEFAULT_TEMPLATE, type Label, validateLabels, validateTemplates } from "./zeroshot.ts";
import { imagenetClasses } from "./data/imagenet.ts";
import { MAX_TOP_K } from "../kernels/topk.ts";
import { UsageError } from "./errors.ts";

/** A scored label, best first in every result list. */
export interface ScoredLabel {
  /** The prompting label (CLIP's curated name for ImageNet classes). */
  label: string;
  /** ImageNet index, or the position in the caller's label list. */
  index: number;
  /** Probability in [0,1]. */
  score: number;
}

/** Options shared by the API functions. */
export interface PipelineOptions {
  /** `auto` (default), `webgpu` or `wasm`. */
  device?: DeviceChoice;
  /** Only `fp32` for now. */
  dtype?: "fp32";
  /** How many labels per image, 1..10 (default 5). */
  topK?: number;
}

async function load(images: readonly (string | RgbaImage)[]): Promise<RgbaImage[]> {
  return await Promise.all(images.map((im) => (typeof im === "string" ? decodeImageFile(im) : im)));
}

function checkTopK(k: number | undefined): number {
  const v = k ?? 5;
  if (!Number.isInteger(v) || v < 1 || v > MAX_TOP_K) {
    throw new UsageError(`topK must be an integer from 1 to ${MAX_TOP_K}, got ${k}`);
  }
  return v;
}

function unpack(top: TopKRows, labelOf: (j: number) => Label): ScoredLabel[][] {
  return Array.from(
    { length: top.rows },
    (_, i) =>
      Array.from(top.indices.subarray(i * top.k, (i + 1) * top.k), (j, s) => ({
        label: labelOf(j).label,
        index: labelOf(j).index,
        score: top.values[i * top.k + s]!,
      })),
  );
}

/**
 * Classifies images into the 1000 ImageNet classes with a ResNet.
 *
 * @example
 * ```ts ignore
 * import { classify } from "./mod.ts";
 * const [top] = await classify(["data/samples/photo/n02128385_leopard.jpg"], {
 *   model: "models/fixtures/resnet-tiny",
 *   topK: 3,
 * });
 * console.log(top); // [{ label: "...", index: 123, score: 0.41 }, ...]
 * ```
 * @param images Paths or decoded images.
 * @param options `model` (a .onnx file or directory), `input` (`imagenet` or `unit`), device, topK.
 * @returns Per image, the top-k classes sorted by score.
 */
export async function classify(
  images: readonly (string | RgbaImage)[],
  options: PipelineOptions & { model: string; input?: ResnetInput },
): Promise<ScoredLabel[][]> {
  const k = checkTopK(options.topK);
  const device = await resolveDevice(options.device ?? "auto");
  try {
    const model = await ResnetModel.load(await resolveResnet(options.model, options.input), device);
    try {
      const logits = await model.logits(await load(images));
      try {
        const top = await classTopK(logits, undefined, k, device.gpu ? { device: device.gpu.device } : undefined);
        const classes = imagenetClasses();
        return unpack(top, (j) => ({ label: classes[j]!.clip, index: j }));
      } finally {
        releaseRows(logits);
      }
    } finally {
      await model.release();
    }
  } finally {
    device.gpu?.destroy();
  }
}

/**
 * Zero-shot classification with CLIP over any labels: softmax(100 · cos) over the labels.
 *
 * @example
 * ```ts ignore
 * import { zeroShot } from "./mod.ts";
 * const [top] = await zeroShot(["data/samples/photo/n02128385_leopard.jpg"], ["leopard", "tiger", "cat"], {
 *   model: "models/fixtures/clip-tiny",
 *   templates: ["a photo of a {}."],
 * });
 * ```
 * @param images Paths or decoded images.
 * @param labels The labels; their positions are the `index` in the results.
 * @param options `model` (a CLIP directory), `templates` (default the seed's one), device, topK.
 * @returns Per image, the top-k labels sorted by score.
 */
export async function zeroShot(
  images: readonly (string | RgbaImage)[],
  labels: readonly string[],
  options: PipelineOptions & { model: string; templates?: readonly string[] },
): Promise<ScoredLabel[][]> {
  const list: Label[] = labels.map((label, index) => ({ label, index }));
  validateLabels(list, "labels");
  const templates = options.templates ?? [DEFAULT_TEMPLATE];
  validateTemplates(templates, "templates");
  const k = Math.min(checkTopK(options.topK), labels.length);
  const device = await resolveDevice(options.device ?? "auto");
  try {
    const clip = await ClipModel.load(options.model, device);
    try {
      const head = await buildHead(clip, labels, templates);
      const emb = await clip.encodeImages(await load(images));
      try {
        const top = await zeroShotTopK(
          emb,
          head.rows,
          CLIP_LOGIT_SCALE,
          k,
          device.gpu ? { device: device.gpu.device } : undefined,
        );
        return unpack(top, (j) => list[j]!);
      } finally {
        releaseRows(emb);
        releaseRows(head.rows);
      }
    } finally {
      await clip.release();
    }
  } finally {
    device.gpu?.destroy();
  }
}
