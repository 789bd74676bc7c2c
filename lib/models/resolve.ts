/**
 * A model argument, as the CLI and the API take it, resolved to local files: a manifest name (fetched into the
 * cache), a weights directory or `.safetensors` (built into ONNX once, cached), an ONNX directory, `.onnx` or `.zip`.
 *
 * @module
 */
import { type CachedModel, ensureModel, manifest, type ModelFetchOptions } from "./manifest.ts";
import { resolveClipDir, resolveResnetPath } from "./canonical.ts";
import { type ResnetInput, type ResnetSource, resolveResnet } from "./resnet.ts";
import { statOrNull } from "../fs.ts";

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
