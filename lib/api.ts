/**
 * The scripting API, shaped like transformers.js pipelines: load a model once with `imageClassifier()` or
 * `zeroShotClassifier()` (a manifest name, fetched into the cache, or a path), then call it as often as you like;
 * each call returns per image a `{ label, index, score }[]` sorted from high to low. `await using` releases the
 * sessions and the GPU device. `classify()` and `zeroShot()` are the one-call forms.
 *
 * @module
 */
import type { Engine } from "./ort/session.ts";
import { type DeviceChoice, type ResolvedDevice, resolveDevice } from "./device.ts";
import { decodeImage, decodeImageFile, type RgbaImage } from "./image/decode.ts";
import { type ResnetInput, ResnetModel } from "./models/resnet.ts";
import { CLIP_LOGIT_SCALE, ClipModel } from "./models/clip.ts";
import { checkedTopK, classTopK, releaseRows, type TopKRows, zeroShotTopK } from "./scoring.ts";
import type { Rows } from "./models/vision.ts";
import {
  buildHead,
  DEFAULT_TEMPLATE,
  type Label,
  namedTemplates,
  validateLabels,
  validateTemplates,
} from "./zeroshot.ts";
import { imagenetClasses } from "./data/imagenet.ts";
import { ClipcmpError, firstLine, UsageError } from "./errors.ts";
import { cacheDir as defaultCacheDir, envVar } from "./models/locate.ts";
import { DEFAULT_ENDPOINT } from "./hub/download.ts";
import type { ModelFetchOptions } from "./models/manifest.ts";
import { resolveClipArg, resolveResnetArg } from "./models/resolve.ts";
import { type CheckContext, checkedFp16Clip, checkedFp16Resnet } from "./fp16.ts";
import { listImages } from "./image/list.ts";
import { repoPath } from "./data/paths.ts";

/** A scored label, best first in every result list. */
export interface ScoredLabel {
  /** The prompting label (CLIP's curated name for ImageNet classes). */
  label: string;
  /** ImageNet index, or the position in the caller's label list. */
  index: number;
  /** Probability in [0,1]. */
  score: number;
}

/** An image: a path, a URL (`file:`, `http(s):`), encoded bytes (JPEG or PNG), a `Blob`, or decoded RGBA. */
export type ImageInput = string | URL | Uint8Array<ArrayBuffer> | Blob | RgbaImage;

/** How a model is loaded. */
export interface LoadOptions {
  /** `auto` (default), `webgpu` or `wasm`. */
  device?: DeviceChoice;
  /** The engine that runs the models: `ort` (onnxruntime-web, the default) or `wgsl` (clipcmp's own, webgpu only). */
  engine?: Engine;
  /** `fp32` (default) or `fp16`: converted once, cached, and used only after it passes a self-test against fp32. */
  dtype?: "fp32" | "fp16";
  /** The model cache (default as the CLI: `$CLIPCMP_CACHE_DIR`, `$XDG_CACHE_HOME/clipcmp`, `~/.cache/clipcmp`). */
  cacheDir?: string;
  /** Never download; fail naming the missing files. */
  offline?: boolean;
  /** The model hub or a mirror (default `$HF_ENDPOINT`, else huggingface.co). */
  hubUrl?: string;
  /** How the ResNet graph takes its input (`imagenet` or `unit`), for a bare `.onnx`. */
  input?: ResnetInput;
  /** One-line progress messages (default: none). */
  log?: (line: string) => void;
}

/** Options of one call. */
export interface CallOptions {
  /** How many labels per image, 1..10 (default 5). */
  topK?: number;
}

/** Options shared by the one-call functions {@linkcode classify} and {@linkcode zeroShot}. */
export interface PipelineOptions extends Omit<LoadOptions, "input">, CallOptions {}

async function toRgba(im: ImageInput, i: number): Promise<RgbaImage> {
  if (typeof im === "string") return await decodeImageFile(im);
  if (im instanceof URL) {
    if (im.protocol === "file:") return await decodeImageFile(decodeURIComponent(im.pathname));
    let res: Response;
    try {
      res = await fetch(im);
    } catch (err) {
      throw new ClipcmpError(`Cannot fetch image ${im.href}: ${firstLine(err)}`);
    }
    if (!res.ok) throw new ClipcmpError(`Cannot fetch image ${im.href}: HTTP ${res.status}`);
    return await decodeImage(new Uint8Array(await res.arrayBuffer()), im.href);
  }
  if (im instanceof Blob) return await decodeImage(new Uint8Array(await im.arrayBuffer()), `image ${i} (Blob)`);
  if (im instanceof Uint8Array) return await decodeImage(im, `image ${i} (bytes)`);
  if (typeof im === "object" && im && "data" in im && "width" in im && "height" in im) return im;
  throw new UsageError(`image ${i}: expected a path, URL, Uint8Array, Blob or { data, width, height }`);
}

function load(images: readonly ImageInput[]): Promise<RgbaImage[]> {
  if (!Array.isArray(images)) throw new UsageError("images must be an array");
  return Promise.all(images.map(toRgba));
}

function hubOptions(o: LoadOptions): ModelFetchOptions {
  return {
    endpoint: o.hubUrl ?? envVar("HF_ENDPOINT") ?? DEFAULT_ENDPOINT,
    cacheDir: defaultCacheDir(o.cacheDir),
    offline: o.offline ?? false,
  };
}

/** The fp16 self-test's context; it runs on the first sample photos when a model loads with `dtype: "fp16"`. */
async function fp16Context(cacheDir: string, device: ResolvedDevice, log: (s: string) => void): Promise<CheckContext> {
  const files = (await listImages([repoPath("data/samples/photo")])).slice(0, 4);
  return { cacheDir, device, log, samples: await Promise.all(files.map((f) => decodeImageFile(f))) };
}

/** Opens the device, loads a model on it, and gives the device back if the load fails. */
async function onDevice<T>(
  options: LoadOptions,
  load: (device: ResolvedDevice) => Promise<T>,
): Promise<[T, ResolvedDevice]> {
  const device = await resolveDevice(options.device ?? "auto", options.engine);
  try {
    return [await load(device), device];
  } catch (err) {
    device.gpu?.destroy();
    throw err;
  }
}

function checkDtype(dtype: string | undefined): "fp32" | "fp16" {
  if (dtype === undefined || dtype === "fp32" || dtype === "fp16") return dtype ?? "fp32";
  throw new UsageError(`dtype must be fp32 or fp16, got "${dtype}"`);
}

function checkTopK(k: number | undefined): number {
  return checkedTopK("topK", k ?? 5);
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

/** A loaded ImageNet classifier: call it with images; it keeps its session between calls. */
export interface ImageClassifier extends AsyncDisposable {
  (images: readonly ImageInput[], options?: CallOptions): Promise<ScoredLabel[][]>;
  /** The model's name: its manifest name, else its file or folder name. */
  readonly modelName: string;
  /** The device it runs on. */
  readonly device: ResolvedDevice;
  /** Releases the session and the GPU device; later calls fail. */
  release(): Promise<void>;
}

/** A loaded CLIP zero-shot classifier: call it with images and labels; heads are kept per label set. */
export interface ZeroShotClassifier extends AsyncDisposable {
  (
    images: readonly ImageInput[],
    labels: readonly string[],
    options?: CallOptions & { templates?: readonly string[] | "clip80" | "simple7" },
  ): Promise<ScoredLabel[][]>;
  /** The model's name. */
  readonly modelName: string;
  /** The device it runs on. */
  readonly device: ResolvedDevice;
  /** Releases the sessions and the GPU device; later calls fail. */
  release(): Promise<void>;
}

/**
 * A loaded model's call as a classifier object: its name, its device, and `release()` / `[Symbol.asyncDispose]`,
 * which run `close` (free the model) and give the device back, once.
 */
function classifierObject<F extends object>(
  call: F,
  modelName: string,
  device: ResolvedDevice,
  close: () => Promise<void>,
): F & { modelName: string; device: ResolvedDevice; release(): Promise<void> } & AsyncDisposable {
  let open = true;
  const release = async () => {
    if (!open) return;
    open = false;
    await close();
    device.gpu?.destroy();
  };
  return Object.assign(call, { modelName, device, release, [Symbol.asyncDispose]: release });
}

function released(what: string): never {
  throw new UsageError(`${what} was released; load it again`);
}

/**
 * Loads an ImageNet ResNet once, for many calls.
 *
 * @example
 * ```ts ignore
 * import { imageClassifier } from "./mod.ts";
 * await using clf = await imageClassifier("resnet50", { device: "auto" });
 * const [top] = await clf(["data/samples/photo/n02128385_leopard.jpg"], { topK: 3 });
 * console.log(clf.modelName, top); // resnet50 [{ label: "leopard", index: 288, score: 0.93 }, ...]
 * ```
 * @param model A manifest name (`resnet50`, `resnet50-a1`, …) or a path (`.safetensors`, `.onnx`, `.zip`, a
 *   directory); default the manifest's default.
 * @param options Device, dtype, cache and hub.
 * @returns The classifier.
 */
export async function imageClassifier(model = "resnet50", options: LoadOptions = {}): Promise<ImageClassifier> {
  const dtype = checkDtype(options.dtype);
  const log = options.log ?? (() => {});
  const hub = hubOptions(options);
  const chosen = await resolveResnetArg(model, options.input, hub, log);
  let [resnet, device]: [ResnetModel | undefined, ResolvedDevice] = await onDevice(
    options,
    async (device) =>
      await ResnetModel.load(
        dtype === "fp16"
          ? await checkedFp16Resnet(chosen.source, await fp16Context(hub.cacheDir, device, log))
          : chosen.source,
        device,
      ),
  );
  const classes = imagenetClasses();
  const call = async (images: readonly ImageInput[], opts: CallOptions = {}) => {
    if (!resnet) released(chosen.name);
    const k = checkTopK(opts.topK);
    const logits = await resnet.logits(await load(images));
    try {
      const top = await classTopK(logits, undefined, k);
      return unpack(top, (j) => ({ label: classes[j]!.clip, index: j }));
    } finally {
      releaseRows(logits);
    }
  };
  return classifierObject(call, chosen.name, device, async () => {
    const r = resnet!;
    resnet = undefined;
    await r.release();
  });
}

function templateList(t: readonly string[] | "clip80" | "simple7" | undefined): readonly string[] {
  if (t === undefined) return [DEFAULT_TEMPLATE];
  const named = typeof t === "string" ? namedTemplates(t) : undefined;
  if (named) return named;
  if (!Array.isArray(t)) throw new UsageError(`templates must be "clip80", "simple7" or a list of strings`);
  validateTemplates(t, "templates");
  return t;
}

/**
 * Loads CLIP once, for zero-shot classification over any labels: softmax(100 · cos) over the labels. The text
 * head of each (labels, templates) pair is built once and kept until release.
 *
 * @example
 * ```ts ignore
 * import { zeroShotClassifier } from "./mod.ts";
 * await using clf = await zeroShotClassifier("clip-rn50", { device: "auto", dtype: "fp32" });
 * const [top] = await clf(["data/samples/photo/n02128385_leopard.jpg"], ["leopard", "tiger", "cat"], {
 *   templates: "clip80",
 * });
 * ```
 * @param model A manifest name (`clip-rn50`, `clip-vit-b32`, …) or a path (a weights or ONNX directory);
 *   default the manifest's default.
 * @param options Device, dtype, cache and hub.
 * @returns The classifier.
 */
export async function zeroShotClassifier(model = "clip-rn50", options: LoadOptions = {}): Promise<ZeroShotClassifier> {
  const dtype = checkDtype(options.dtype);
  const log = options.log ?? (() => {});
  const hub = hubOptions(options);
  const chosen = await resolveClipArg(model, hub, log);
  let [clip, device]: [ClipModel | undefined, ResolvedDevice] = await onDevice(
    options,
    async (device) =>
      await ClipModel.load(
        dtype === "fp16"
          ? await checkedFp16Clip(
            chosen.dir,
            imagenetClasses().map((c) => c.clip),
            await fp16Context(hub.cacheDir, device, log),
          )
          : chosen.dir,
        device,
      ),
  );
  const heads = new Map<string, Rows>();
  const call = async (
    images: readonly ImageInput[],
    labels: readonly string[],
    opts: CallOptions & { templates?: readonly string[] | "clip80" | "simple7" } = {},
  ) => {
    if (!clip) released(chosen.name);
    if (!Array.isArray(labels)) throw new UsageError("labels must be an array of strings");
    const list: Label[] = labels.map((label, index) => ({ label, index }));
    validateLabels(list, "labels");
    const templates = templateList(opts.templates);
    const k = Math.min(checkTopK(opts.topK), labels.length);
    const key = JSON.stringify([labels, templates]);
    let head = heads.get(key);
    if (!head) {
      head = (await buildHead(clip, labels, templates, undefined, { dir: hub.cacheDir })).rows;
      heads.set(key, head);
    }
    const emb = await clip.encodeImages(await load(images));
    try {
      const top = await zeroShotTopK(
        emb,
        head,
        CLIP_LOGIT_SCALE,
        k,
      );
      return unpack(top, (j) => list[j]!);
    } finally {
      releaseRows(emb);
    }
  };
  return classifierObject(call, chosen.name, device, async () => {
    const c = clip!;
    clip = undefined;
    for (const h of heads.values()) releaseRows(h);
    heads.clear();
    await c.release();
  });
}

/**
 * Classifies images into the 1000 ImageNet classes with a ResNet, in one call (loads and releases the model).
 *
 * @example
 * ```ts ignore
 * import { classify } from "./mod.ts";
 * const [top] = await classify(["data/samples/photo/n02128385_leopard.jpg"], {
 *   model: "models/fixtures/resnet-tiny",
 *   topK: 3,
 * });
 * ```
 * @param images The images.
 * @param options `model` (a manifest name or a path), `input`, device, dtype, topK.
 * @returns Per image, the top-k classes sorted by score.
 */
export async function classify(
  images: readonly ImageInput[],
  options: PipelineOptions & { model?: string; input?: ResnetInput },
): Promise<ScoredLabel[][]> {
  await using clf = await imageClassifier(options.model, options);
  return await clf(images, options);
}

/**
 * Zero-shot classification with CLIP over any labels, in one call (loads and releases the model).
 *
 * @example
 * ```ts ignore
 * import { zeroShot } from "./mod.ts";
 * const [top] = await zeroShot(["data/samples/photo/n02128385_leopard.jpg"], ["leopard", "tiger", "cat"], {
 *   model: "models/fixtures/clip-tiny",
 *   templates: ["a photo of a {}."],
 * });
 * ```
 * @param images The images.
 * @param labels The labels; their positions are the `index` in the results.
 * @param options `model` (a manifest name or a path), `templates`, device, dtype, topK.
 * @returns Per image, the top-k labels sorted by score.
 */
export async function zeroShot(
  images: readonly ImageInput[],
  labels: readonly string[],
  options: PipelineOptions & { model?: string; templates?: readonly string[] | "clip80" | "simple7" },
): Promise<ScoredLabel[][]> {
  await using clf = await zeroShotClassifier(options.model, options);
  return await clf(images, labels, options);
}
