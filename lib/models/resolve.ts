/**
 * A model argument, as the CLI and the API take it, resolved to local files: a manifest name (fetched into the
 * cache), a weights directory or `.safetensors` (built into ONNX once, cached), an ONNX directory, `.onnx` or `.zip`.
 *
 * @module
 */
import { type CachedModel, checkIo, ensureModel, manifest, type ModelFetchOptions } from "./manifest.ts";
import { resolveClipDir, resolveResnetPath } from "./canonical.ts";
import { type ResnetInput, type ResnetSource, resolveResnet } from "./resnet.ts";
import { statOrNull } from "../fs.ts";
import type { ClipModel } from "./clip.ts";
import type { ResnetModel } from "./resnet.ts";
import { type CheckContext, checkedFp16Clip, checkedFp16Resnet } from "../fp16.ts";
import { decodeImageFile, type DecodeOptions, type RgbaImage } from "../image/decode.ts";
import { ClipcmpError } from "../errors.ts";

/** A CLIP model on disk: its ONNX directory, and the manifest entry or weights it came from. */
export interface ResolvedClip {
  dir: string;
  cached?: CachedModel;
  weights?: string;
  /** The name shown in tables and reports: the manifest name, else the folder's name. */
  name: string;
}

/** A ResNet on disk: its source, and the manifest entry or weights it came from. */
export interface ResolvedResnet {
  source: ResnetSource;
  cached?: CachedModel;
  weights?: string;
  /** The name shown in tables and reports. */
  name: string;
}

/** The name a local model goes by: its file or folder name, without `.onnx`/`.safetensors`/`.zip`. */
export function modelNameOfPath(path: string): string {
  const parts = path.replace(/[\\/]+$/, "").split(/[\\/]/);
  let last = parts.pop() ?? path;
  // `resnet/model.onnx`, `clip/visual`: the folder names the model, not the generic file.
  if (/^model\.(onnx|safetensors)$/.test(last) && parts.length) last = parts.pop()!;
  return last.replace(/\.(onnx\.zip|onnx|safetensors|zip)$/, "") || path;
}

async function isManifestName(arg: string, kind: "clip" | "resnet"): Promise<boolean> {
  return manifest()[arg]?.kind === kind && (await statOrNull(arg)) === null;
}

/**
 * Resolves a CLIP argument.
 *
 * @example
 * ```ts ignore
 * const clip = await resolveClipArg("clip-rn50", { endpoint, cacheDir, offline: false });
 * ```
 * @param arg A manifest name or a path.
 * @param hub Where and how to fetch manifest models.
 * @param log One-line progress messages.
 * @returns The model on disk.
 */
export async function resolveClipArg(
  arg: string,
  hub: ModelFetchOptions,
  log: (s: string) => void,
): Promise<ResolvedClip> {
  if (await isManifestName(arg, "clip")) {
    const cached = await ensureModel(arg, hub);
    return { ...await resolveClipDir(cached.path, hub.cacheDir, log), cached, name: arg };
  }
  return { ...await resolveClipDir(arg, hub.cacheDir, log), name: modelNameOfPath(arg) };
}

/**
 * Resolves a ResNet argument.
 *
 * @param arg A manifest name or a path.
 * @param input How the graph takes its input, when the caller says so.
 * @param hub Where and how to fetch manifest models.
 * @param log One-line progress messages.
 * @returns The model on disk.
 */
export async function resolveResnetArg(
  arg: string,
  input: ResnetInput | undefined,
  hub: ModelFetchOptions,
  log: (s: string) => void,
): Promise<ResolvedResnet> {
  if (await isManifestName(arg, "resnet")) {
    const cached = await ensureModel(arg, hub);
    const r = await resolveResnetPath(cached.path, hub.cacheDir, log);
    const source = await resolveResnet(r.path, input ?? r.input ?? cached.entry.input);
    return { source, cached, weights: r.weights, name: arg };
  }
  const r = await resolveResnetPath(arg, hub.cacheDir, log);
  return { source: await resolveResnet(r.path, input ?? r.input), weights: r.weights, name: modelNameOfPath(arg) };
}

/** The models a run uses, resolved to local paths (manifest models fetched as needed). */
export interface ChosenModels {
  /** CLIP directory and, for manifest models, the entry to validate against; `weights` when built from them. */
  clip?: ResolvedClip;
  /** ResNet source and, for manifest models, the entry; `weights` when built from them. */
  resnet?: ResolvedResnet;
  /**
   * Further models of each kind, scored beside the first on the same label set (compare's repeated `--clip` and
   * `--resnet`); their document keys are `clip_2`, `clip_3`, ... and `resnet_2`, ...
   */
  more?: { clip: ResolvedClip[]; resnet: ResolvedResnet[] };
}

/**
 * The document key of the i-th further model of a kind (`more.clip[0]` is `clip_2`: the first model is `clip`).
 *
 * @example
 * ```ts
 * import { moreModelKey } from "./resolve.ts";
 * if (moreModelKey("resnet", 0) !== "resnet_2") throw new Error();
 * ```
 */
export function moreModelKey(kind: "clip" | "resnet", i: number): string {
  return `${kind}_${i + 2}`;
}

/**
 * Validates loaded models against their manifest entries (local models are validated by shape only).
 *
 * @param chosen The chosen models.
 * @param clip The loaded CLIP model.
 * @param resnet The loaded ResNet.
 */
export function checkAgainstManifest(chosen: ChosenModels, clip?: ClipModel, resnet?: ResnetModel): void {
  const c = chosen.clip?.cached;
  if (c && clip) {
    if (c.entry.io["visual/model.onnx"]) checkIo(clip.visual.session, c.entry.io["visual/model.onnx"]);
    if (c.entry.io["textual/model.onnx"]) checkIo(clip.textual, c.entry.io["textual/model.onnx"]);
  }
  const r = chosen.resnet?.cached;
  if (r && resnet) {
    const spec = r.entry.io.model ?? Object.values(r.entry.io)[0];
    if (spec) checkIo(resnet.graph.session, spec);
  }
}

/**
 * Switches the chosen models to their fp16 versions, each only after it passes the fp16 self-test against fp32 on
 * the first decodable of `paths` (`--dtype fp16` in every task that runs models).
 *
 * @param chosen The models; their paths are replaced in place.
 * @param paths The run's images, in order; the first four that decode are the self-test's samples.
 * @param labels Label texts for CLIP's self-test head.
 * @param ctx Cache and device.
 * @param decode How the run decodes its images (EXIF, alpha).
 */
export async function switchToFp16(
  chosen: ChosenModels,
  paths: readonly string[],
  labels: readonly string[],
  ctx: Omit<CheckContext, "samples">,
  decode: DecodeOptions = {},
): Promise<void> {
  const samples: RgbaImage[] = [];
  for (const p of paths) {
    if (samples.length >= 4) break;
    try {
      samples.push(await decodeImageFile(p, decode));
    } catch { /* the run lists it as skipped */ }
  }
  if (samples.length === 0) throw new ClipcmpError("--dtype fp16: no usable image to run the fp16 self-test on");
  for (const c of [chosen.clip, ...(chosen.more?.clip ?? [])]) {
    if (c) c.dir = await checkedFp16Clip(c.dir, labels, { ...ctx, samples });
  }
  for (const r of [chosen.resnet, ...(chosen.more?.resnet ?? [])]) {
    if (r) r.source = await checkedFp16Resnet(r.source, { ...ctx, samples });
  }
}
