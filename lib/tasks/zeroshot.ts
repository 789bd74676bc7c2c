/**
 * The zero-shot task's core, for the CLI (`deno task zeroshot`) and scripts alike: streams images through CLIP in
 * chunks, scores them against a zero-shot head over the labels, and returns one document.
 *
 * @module
 */
import type { Engine } from "../ort/session.ts";
import { type DeviceChoice, resolveDevice } from "../device.ts";
import { ClipcmpError, firstLine } from "../errors.ts";
import { activationNote, ClipModel } from "../models/clip.ts";
import type { ResolvedClip } from "../models/resolve.ts";
import { checkedFp16Clip } from "../fp16.ts";
import { decodeImageFile, type DecodeOptions, precheckImageFile, type RgbaImage } from "../image/decode.ts";
import { headProgress } from "../progress_line.ts";
import { buildHead, type Label, type LabelledAccuracy, labelledAccuracy } from "../zeroshot.ts";
import { finiteOrThrow, releaseRows, zeroShotTopK } from "../scoring.ts";
import { docHeader, runPlace } from "../envelope.ts";

/** Images decoded and scored at a time: only one chunk of pixels is held. */
export const ZS_CHUNK = 64;

/** What to classify, with what. */
export interface ZeroshotOptions {
  /** The CLIP model on disk. */
  clip: ResolvedClip;
  /** The images, listed. */
  files: readonly string[];
  /** The labels and where they came from (for provenance). */
  labels: readonly Label[];
  labelsSource: string;
  /** Prompt templates with `{}`. */
  templates: readonly string[];
  /** Labels per image (at most the label count). */
  topK: number;
  /** The logit scale (100 for CLIP; 1 only to show the mistake of leaving it out). */
  scale: number;
  device: DeviceChoice;
  /** The engine that runs the models (default `ort`). */
  engine?: Engine;
  dtype: "fp32" | "fp16";
  decode: DecodeOptions;
  /** The model cache (zero-shot heads, fp16 models). */
  cacheDir: string;
  /** One-line messages (skipped files, warnings, progress). */
  log: (line: string) => void;
  /** Checks the loaded model (against its manifest entry). */
  checkModel?: (clip: ClipModel) => void;
}

/** One image's labels, best first. */
export interface ZeroshotResult {
  path: string;
  top_k: { label: string; index: number; score: number }[];
}

/** The task's document (docs/schemas/zeroshot.schema.json). */
export interface ZeroshotDocument {
  tool: "clipcmp";
  version: string;
  task: "zeroshot";
  provenance: Record<string, unknown>;
  labels: readonly Label[];
  results: ZeroshotResult[];
  skipped: { path: string; reason: string }[];
  summary: { n: number; skipped: number; accuracy: LabelledAccuracy | null };
}

/**
 * Runs zero-shot classification.
 *
 * @example
 * ```ts ignore
 * const doc = await runZeroshot({ clip, files, labels, labelsSource: "--labels", templates, topK: 5, scale: 100,
 *   device: "auto", dtype: "fp32", decode: {}, cacheDir, log: console.error });
 * ```
 * @param opts What to classify, with what.
 * @returns The document.
 */
export async function runZeroshot(opts: ZeroshotOptions): Promise<ZeroshotDocument> {
  const { labels, templates, scale, log } = opts;
  const source = opts.labelsSource;
  const files = opts.files;
  const k = Math.min(opts.topK, labels.length);
  const decode = opts.decode;
  const skipped: { path: string; reason: string }[] = [];
  const skip = (path: string, err: unknown) => {
    skipped.push({ path, reason: firstLine(err) });
    log(`skipped ${path}: ${firstLine(err)}`);
  };
  // Images stream through in chunks: only one chunk of decoded pixels is held at a time (a few hundred 12 MP
  // photos would not fit in memory at once). A cheap header check first finds what is certainly unusable.
  const candidates: string[] = [];
  for (const path of files) {
    try {
      await precheckImageFile(path);
      candidates.push(path);
    } catch (err) {
      skip(path, err);
    }
  }
  const decodeChunk = async (paths: readonly string[]) => {
    const out: { path: string; image: RgbaImage }[] = [];
    for (const path of paths) {
      try {
        out.push({ path, image: await decodeImageFile(path, decode) });
      } catch (err) {
        skip(path, err);
      }
    }
    return out;
  };
  let chunkStart = 0;
  let first: { path: string; image: RgbaImage }[] = [];
  while (first.length === 0 && chunkStart < candidates.length) {
    first = await decodeChunk(candidates.slice(chunkStart, chunkStart + ZS_CHUNK));
    chunkStart += ZS_CHUNK;
  }
  if (first.length === 0) {
    throw new ClipcmpError(`Nothing to classify: ${skipped.length} input(s) skipped, none usable`);
  }

  const device = await resolveDevice(opts.device, opts.engine);
  log(device.reason);
  let clip: ClipModel | undefined;
  try {
    const runDir = opts.dtype === "fp16"
      ? await checkedFp16Clip(opts.clip.dir, labels.map((l) => l.label), {
        cacheDir: opts.cacheDir,
        device,
        samples: first.slice(0, 4).map((u) => u.image),
        log,
      })
      : opts.clip.dir;
    clip = await ClipModel.load(runDir, { ...device, log });
    opts.checkModel?.(clip);
    log(`Testing CLIP on ${candidates.length} images`);
    log(
      `Loaded ${labels.length} categories from ${source}, ${templates.length} template(s): ${
        labels.length * templates.length
      } prompts`,
    );
    const prompts = labels.length * templates.length;
    if (prompts >= 200) {
      log(
        `Building the zero-shot head: ${prompts} prompts${
          clip.textBatch === 1 ? " (this text graph takes one prompt per run)" : ""
        }`,
      );
    }
    const head = await buildHead(clip, labels.map((l) => l.label), templates, headProgress(log), {
      dir: opts.cacheDir,
      log,
    });
    for (const p of head.truncated) log(`warning: prompt over 77 tokens, truncated: "${p.slice(0, 60)}…"`);
    if (scale === 1) {
      log(
        "warning: --no-logit-scale reproduces a common mistake (no logit scale); these probabilities are near-uniform",
      );
    }
    const results: { path: string; top_k: { label: string; index: number; score: number }[] }[] = [];
    let used: { path: string; image: RgbaImage }[] = first;
    while (used.length) {
      const img = await clip.encodeImages(used.map((u) => u.image));
      try {
        const top = await finiteOrThrow(
          clip.visual.session.path,
          used.map((u) => u.path),
          zeroShotTopK(img, head.rows, scale, k),
        );
        used.forEach((u, i) =>
          results.push({
            path: u.path,
            top_k: Array.from(top.indices.subarray(i * k, (i + 1) * k), (j, s) => ({
              label: labels[j]!.label,
              index: labels[j]!.index,
              score: top.values[i * k + s]!,
            })),
          })
        );
      } finally {
        releaseRows(img);
      }
      used = [];
      while (used.length === 0 && chunkStart < candidates.length) {
        used = await decodeChunk(candidates.slice(chunkStart, chunkStart + ZS_CHUNK));
        chunkStart += ZS_CHUNK;
      }
    }
    releaseRows(head.rows);
    log(`Text features: [${labels.length}, ${clip.dim}]  Image features: [${results.length}, ${clip.dim}]`);
    if (labels.length === 1) {
      log("warning: one label only: every image gets it with probability 100 % by construction; give more labels");
    }
    // Indices are ImageNet's for --imagenet and for a 1000-entry index dict (imagenet1000_clsidx_to_labels.txt); else match names.
    const imagenetIndexed = labels.length === 1000 && labels.every((l, i) => l.index === i);
    const accuracy = labelledAccuracy(results, labels, imagenetIndexed);
    return {
      ...docHeader("zeroshot"),
      provenance: {
        ...runPlace(device),
        dtype: opts.dtype,
        model: {
          dir: clip.dir,
          visual: {
            path: clip.visual.session.path,
            sha256: clip.visual.session.sha256,
            ...(activationNote(clip.visual.session) ? { activation_note: activationNote(clip.visual.session)! } : {}),
          },
          textual: {
            path: clip.textual.path,
            sha256: clip.textual.sha256,
            ...(activationNote(clip.textual) ? { activation_note: activationNote(clip.textual)! } : {}),
          },
          tokenizer: clip.tokenizer.path,
        },
        labels_source: opts.labelsSource,
        templates,
        logit_scale: scale,
      },
      labels,
      results,
      skipped,
      summary: { n: results.length, skipped: skipped.length, accuracy },
    };
  } finally {
    await clip?.release();
    device.gpu?.destroy();
  }
}
