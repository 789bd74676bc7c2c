/**
 * Part 4's core: both models on the same images, scored on the same label set (the classes present in the
 * evaluated images). CLIP gives softmax(100 * cos) over the set's prompts; ResNet's 1000 logits are restricted
 * to the set's class indices, and its unrestricted 1000-way top-5 is kept beside that.
 *
 * @module
 */
import { classFromFileName, type ImagenetClass, imagenetClasses } from "./data/imagenet.ts";
import { decodeImageFile, type DecodeOptions, type RgbaImage } from "./image/decode.ts";
import { CLIP_LOGIT_SCALE, type ClipModel } from "./models/clip.ts";
import type { ResnetModel } from "./models/resnet.ts";
import { classTopK, releaseRows, type TopKRows, zeroShotTopK } from "./scoring.ts";
import { buildHead } from "./zeroshot.ts";
import { firstLine } from "./errors.ts";
import type { ResolvedDevice } from "./device.ts";
import { VERSION } from "./version.ts";

/** A score: the prompting label, its ImageNet index, and a probability over the label set scored. */
export interface Score {
  /** The label used for prompting (CLIP's curated name for ImageNet classes). */
  label: string;
  /** The ImageNet class index. */
  index: number;
  /** Probability in [0,1]. */
  score: number;
}

/** One evaluated image. */
export interface CompareResult {
  /** The path as given. */
  path: string;
  /** The true class. */
  true: { label: string; index: number; wnid: string };
  /** CLIP's top-5 over the label set, or null when CLIP was not run. */
  clip: { top5: Score[] } | null;
  /** ResNet's top-5 over the label set and over all 1000 classes, or null when ResNet was not run. */
  resnet: { top5: Score[]; top5_1000: Score[] } | null;
}

/** Accuracy of one model. */
export interface ModelSummary {
  /** Top-1 accuracy over the label set, a fraction. */
  top1: number;
  /** Top-5 accuracy over the label set, a fraction. */
  top5: number;
  /** ResNet only: top-1 over all 1000 classes. */
  top1_1000?: number;
  /** ResNet only: top-5 over all 1000 classes. */
  top5_1000?: number;
}

/** A model file and its hash. */
export interface ModelFile {
  /** The path. */
  path: string;
  /** Hex sha256. */
  sha256: string;
}

/** The whole `compare --json` document (see docs/schemas/compare.schema.json). */
export interface CompareDocument {
  /** Always `clipcmp`. */
  tool: "clipcmp";
  /** Tool version. */
  version: string;
  /** Always `compare`. */
  task: "compare";
  /** How the numbers were made. */
  provenance: {
    time: string;
    ep: string;
    device_reason: string;
    adapter: string | null;
    dtype: "fp32";
    templates: string[];
    logit_scale: number;
    models: {
      clip: { dir: string; visual: ModelFile; textual: ModelFile; tokenizer: string; preprocessing: string } | null;
      resnet: (ModelFile & { preprocessing: string }) | null;
    };
  };
  /** The label set both models were scored on, in index order. */
  label_set: { label: string; index: number; wnid: string }[];
  /** Per image, in input order. */
  results: CompareResult[];
  /** Inputs that could not be used, with the reason. */
  skipped: { path: string; reason: string }[];
  /** Accuracies. */
  summary: { n: number; skipped: number; clip: ModelSummary | null; resnet: ModelSummary | null };
}

/** Options for {@linkcode compareModels}. */
export interface CompareOptions {
  /** Image paths; each file's class comes from a WordNet id prefix of its name or its folder's name. */
  images: string[];
  /** The CLIP model, or undefined to skip it. */
  clip?: ClipModel;
  /** The ResNet, or undefined to skip it. */
  resnet?: ResnetModel;
  /** The resolved device. */
  device: ResolvedDevice;
  /** Prompt templates with `{}`; one or many (the head averages them). */
  templates: readonly string[];
  /** EXIF orientation and alpha handling (PIL's defaults when omitted). */
  decode?: DecodeOptions;
  /** Progress messages (stderr). */
  log?: (line: string) => void;
}

function recipeLine(r: { name: string; resize: number; crop: number; filter: string }): string {
  return `${r.name}: ${r.filter} short side ${r.resize}, centre-crop ${r.crop}`;
}

/**
 * The class of an image path: a WordNet id prefix on the file name, or a folder named by WordNet id.
 *
 * @param path An image path.
 * @returns The class, or undefined.
 */
export function classOfPath(path: string): ImagenetClass | undefined {
  const parts = path.split(/[\\/]/);
  return classFromFileName(parts[parts.length - 1] ?? "") ?? classFromFileName(parts[parts.length - 2] ?? "");
}

/**
 * Runs the comparison.
 *
 * @example
 * ```ts ignore
 * const doc = await compareModels({ images, clip, resnet, device, template: DEFAULT_TEMPLATE });
 * console.log(doc.summary);
 * ```
 * @param opts What to compare.
 * @returns The document.
 */
export async function compareModels(opts: CompareOptions): Promise<CompareDocument> {
  const log = opts.log ?? (() => {});
  const skipped: { path: string; reason: string }[] = [];
  const used: { path: string; cls: ImagenetClass; image: RgbaImage }[] = [];
  for (const path of opts.images) {
    const cls = classOfPath(path);
    if (!cls) {
      skipped.push({
        path,
        reason: "cannot tell its class: name the file or its folder by ImageNet WordNet id (e.g. n01614925_x.jpg)",
      });
      continue;
    }
    try {
      used.push({ path, cls, image: await decodeImageFile(path, opts.decode) });
    } catch (err) {
      skipped.push({ path, reason: firstLine(err) });
    }
  }
  const classes = imagenetClasses();
  const setIdx = [...new Set(used.map((u) => u.cls.index))].sort((a, b) => a - b);
  const labelSet = setIdx.map((i) => ({ label: classes[i]!.clip, index: i, wnid: classes[i]!.wnid }));
  const images = used.map((u) => u.image);
  const gpu = opts.device.gpu ?? undefined;
  const n = used.length;
  const m = setIdx.length;

  const k = Math.min(5, m);
  let clipTop: TopKRows | null = null;
  if (opts.clip && n > 0) {
    log(`CLIP: encoding ${m * opts.templates.length} prompts and ${n} images`);
    const text = await buildHead(opts.clip, labelSet.map((l) => l.label), opts.templates);
    for (const p of text.truncated) log(`warning: prompt truncated to 77 tokens: "${p.slice(0, 60)}…"`);
    const img = await opts.clip.encodeImages(images);
    try {
      clipTop = await zeroShotTopK(img, text.rows, CLIP_LOGIT_SCALE, k, gpu);
    } finally {
      releaseRows(img);
      releaseRows(text.rows);
    }
  }
  let resSet: TopKRows | null = null;
  let resAll: TopKRows | null = null;
  if (opts.resnet && n > 0) {
    log(`ResNet: classifying ${n} images`);
    const logits = await opts.resnet.logits(images);
    try {
      resSet = await classTopK(logits, setIdx, k, gpu);
      resAll = await classTopK(logits, undefined, 5, gpu);
    } finally {
      releaseRows(logits);
    }
  }

  const scores = (top: TopKRows, row: number, indexOf: (j: number) => number): Score[] =>
    Array.from(top.indices.subarray(row * top.k, (row + 1) * top.k), (j, s) => ({
      label: classes[indexOf(j)]!.clip,
      index: indexOf(j),
      score: top.values[row * top.k + s]!,
    }));
  const results: CompareResult[] = used.map((u, i) => ({
    path: u.path,
    true: { label: u.cls.clip, index: u.cls.index, wnid: u.cls.wnid },
    clip: clipTop ? { top5: scores(clipTop, i, (j) => setIdx[j]!) } : null,
    resnet: resSet && resAll
      ? { top5: scores(resSet, i, (j) => setIdx[j]!), top5_1000: scores(resAll, i, (j) => j) }
      : null,
  }));

  const acc = (pick: (r: CompareResult) => Score[] | undefined, k: number) =>
    n === 0 ? 0 : results.filter((r) => pick(r)!.slice(0, k).some((s) => s.index === r.true.index)).length / n;
  const summary = {
    n,
    skipped: skipped.length,
    clip: clipTop ? { top1: acc((r) => r.clip?.top5, 1), top5: acc((r) => r.clip?.top5, 5) } : null,
    resnet: resSet
      ? {
        top1: acc((r) => r.resnet?.top5, 1),
        top5: acc((r) => r.resnet?.top5, 5),
        top1_1000: acc((r) => r.resnet?.top5_1000, 1),
        top5_1000: acc((r) => r.resnet?.top5_1000, 5),
      }
      : null,
  };
  const clip = opts.clip;
  const resnet = opts.resnet;
  return {
    tool: "clipcmp",
    version: VERSION,
    task: "compare",
    provenance: {
      time: new Date().toISOString(),
      ep: opts.device.ep,
      device_reason: opts.device.reason,
      adapter: opts.device.adapter,
      dtype: "fp32",
      templates: [...opts.templates],
      logit_scale: CLIP_LOGIT_SCALE,
      models: {
        clip: clip
          ? {
            dir: clip.dir,
            visual: { path: clip.visual.session.path, sha256: clip.visual.session.sha256 },
            textual: { path: clip.textual.path, sha256: clip.textual.sha256 },
            tokenizer: clip.tokenizer.path,
            preprocessing: recipeLine({ name: "clip", resize: 224, crop: 224, filter: "bicubic" }),
          }
          : null,
        resnet: resnet
          ? {
            path: resnet.graph.session.path,
            sha256: resnet.graph.session.sha256,
            preprocessing: recipeLine(resnet.source.recipe),
          }
          : null,
      },
    },
    label_set: labelSet,
    results,
    skipped,
    summary,
  };
}
