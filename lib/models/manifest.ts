/**
 * The model manifest (`models/manifest.json`): the real models clipcmp can fetch, with the inputs and outputs
 * each must have, and fetching a whole model into the cache.
 *
 * @module
 */
import manifestJson from "../../models/manifest.json" with { type: "json" };
import { ClipcmpError, firstLine } from "../errors.ts";
import { cachePath, ensureFile, type HubOptions } from "../hub/download.ts";
import { unzipBundle } from "./canonical.ts";
import type { ModelSession, TensorInfo } from "../ort/session.ts";

/** Expected graph inputs and outputs. */
export interface IoSpec {
  /** Inputs in order. */
  inputs: TensorInfo[];
  /** Outputs in order (the first ones the tool uses). */
  outputs: TensorInfo[];
}

/** One manifest entry. */
export interface ManifestEntry {
  /** `clip` or `resnet`. */
  kind: "clip" | "resnet";
  /** Used when no model is named. */
  default: boolean;
  /** One line for humans. */
  description: string;
  /** Hub repository. */
  repo: string;
  /** Revision: a commit (or tag) where `pinned`, else a branch. */
  revision: string;
  /** Whether `revision` is fixed (a commit or tag) rather than a moving branch. */
  pinned?: boolean;
  /** `weights` (safetensors, built into ONNX here) or `onnx` (default: a published export). */
  format?: "weights" | "onnx";
  /** Files to fetch. */
  files: string[];
  /** Known sha256 of files, by path: such a file is accepted from any revision when it matches. */
  sha256?: Record<string, string>;
  /** A fetched archive to extract. */
  unzip?: string;
  /** Expected IO per model file (`model` for the single .onnx inside an archive). */
  io: Record<string, IoSpec>;
  /** Preprocessing recipe name. */
  preprocessing: string;
  /** ResNet input normalisation. */
  input?: "imagenet" | "unit";
  /** Whether CLIP outputs are L2-normalised already. */
  normalized_outputs?: boolean;
  /** CLIP's logit scale. */
  logit_scale?: number;
  /** Published ImageNet top-1, %. */
  top1?: number;
}

/** Environment variable naming another manifest file (a private model registry, or a test hub's). */
export const MANIFEST_ENV = "CLIPCMP_MANIFEST";

let loaded: Record<string, ManifestEntry> | undefined;

function models(): Record<string, ManifestEntry> {
  if (loaded) return loaded;
  let path: string | undefined;
  try {
    path = Deno.env.get(MANIFEST_ENV) || undefined;
  } catch {
    path = undefined; // no --allow-env for it: the shipped manifest
  }
  if (!path) return (loaded = manifestJson.models as unknown as Record<string, ManifestEntry>);
  try {
    const doc = JSON.parse(Deno.readTextFileSync(path));
    if (!doc || typeof doc.models !== "object") throw new Error('no "models" object');
    return (loaded = doc.models as Record<string, ManifestEntry>);
  } catch (err) {
    throw new ClipcmpError(`Cannot read the manifest "${path}" (${MANIFEST_ENV}): ${firstLine(err)}`);
  }
}

/**
 * The manifest's entries.
 *
 * @example
 * ```ts
 * import { manifest } from "./manifest.ts";
 * if (manifest()["clip-rn50"]?.repo !== "timm/resnet50_clip.openai") throw new Error();
 * ```
 * @returns Entries by id.
 */
export function manifest(): Readonly<Record<string, ManifestEntry>> {
  return models();
}

/** The default model id of a kind. */
export function defaultModelId(kind: "clip" | "resnet"): string {
  return Object.entries(models()).find(([, m]) => m.kind === kind && m.default)![0];
}

/** Hub options plus the revision choice. */
export interface ModelFetchOptions extends HubOptions {
  /** Another revision than the manifest's (`--revision`). */
  revision?: string;
  /** Accept files with no known sha256 from that revision, recording the hub's hash (`--allow-unpinned`). */
  allowUnpinned?: boolean;
}

/** A model fetched into the cache. */
export interface CachedModel {
  /** Manifest id. */
  id: string;
  /** The entry. */
  entry: ManifestEntry;
  /** What to load: the CLIP directory, or the ResNet .onnx file or directory. */
  path: string;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}

/**
 * Makes sure every file of a manifest model is cached (downloading what is missing unless offline) and returns
 * what to load. Offline, all missing files are named in one message.
 *
 * @param id Manifest id, e.g. `clip-rn50`.
 * @param opts Hub and cache options.
 * @returns The cached model.
 */
export async function ensureModel(id: string, opts: ModelFetchOptions): Promise<CachedModel> {
  const entry = models()[id];
  if (!entry) throw new ClipcmpError(`Unknown model "${id}": known models are ${Object.keys(models()).join(", ")}`);
  const revision = opts.revision ?? entry.revision;
  const files = entry.files.map((path) => ({ repo: entry.repo, revision, path, sha256: entry.sha256?.[path] }));
  if (revision !== entry.revision && !opts.allowUnpinned) {
    const unknown = [];
    for (const f of files) if (!f.sha256 && !(await isFile(cachePath(opts.cacheDir, f)))) unknown.push(f.path);
    if (unknown.length) {
      throw new ClipcmpError(
        `Model ${id}: ${unknown.join(", ")} ${
          unknown.length > 1 ? "have" : "has"
        } no known sha256, so revision ${revision} of ${entry.repo} cannot be verified; pass --allow-unpinned to accept the hub's hashes (they are recorded in the lock file)`,
      );
    }
  }
  if (opts.offline) {
    const missing = [];
    for (const f of files) if (!(await isFile(cachePath(opts.cacheDir, f)))) missing.push(f.path);
    if (missing.length) {
      const flag = entry.kind === "clip" ? "--clip DIR" : "--resnet FILE|DIR";
      throw new ClipcmpError(
        `Model ${id} (${entry.repo}) is not in the cache at ${opts.cacheDir} (missing ${
          missing.join(", ")
        }) and --offline forbids downloading it; run once online, or pass a local model with ${flag} (the repository's tiny ones: --clip models/fixtures/weights/clip-rn-tiny --resnet models/fixtures/weights/resnet-tv-tiny)`,
      );
    }
  }
  for (const f of files) await ensureFile(f, opts);
  const root = cachePath(opts.cacheDir, { repo: entry.repo, revision, path: "" }).replace(/\/$/, "");
  if (!entry.unzip) return { id, entry, path: root };
  return { id, entry, path: await unzipBundle(`${root}/${entry.unzip}`, opts.cacheDir) };
}

/**
 * Checks a loaded session against the manifest's IO spec, with a one-line error naming the file.
 *
 * @param session The loaded model.
 * @param spec The expected inputs and outputs.
 */
export function checkIo(session: ModelSession, spec: IoSpec): void {
  const same = (a: (number | string)[], b: (number | string)[]) =>
    a.length === b.length && a.every((d, i) => typeof b[i] === "string" || typeof d === "string" ? true : d === b[i]);
  const fmt = (t: TensorInfo) => `${t.name} ${t.type} [${t.shape.join(",")}]`;
  for (
    const [what, want, got] of [["input", spec.inputs, session.inputs], [
      "output",
      spec.outputs,
      session.outputs,
    ]] as const
  ) {
    want.forEach((w, i) => {
      const g = got[i];
      if (!g || g.name !== w.name || g.type !== w.type || !same(g.shape, w.shape)) {
        throw new ClipcmpError(
          `Model "${session.path}" ${what} ${i} is ${g ? fmt(g) : "missing"}, the manifest expects ${fmt(w)}`,
        );
      }
    });
  }
}

/** Which of a manifest model's files are in the cache, at its pinned revision. */
export interface CachedStatus {
  /** The manifest name. */
  id: string;
  /** `clip` or `resnet`. */
  kind: "clip" | "resnet";
  /** Whether every file is there. */
  complete: boolean;
  /** Files present. */
  present: string[];
  /** Files missing. */
  missing: string[];
}

/**
 * The cache status of every manifest model.
 *
 * @example
 * ```ts
 * import { cachedModels } from "./manifest.ts";
 * const all = await cachedModels("tests/.tmp/no-such-cache");
 * if (!all.every((m) => !m.complete && m.present.length === 0)) throw new Error();
 * ```
 * @param cacheDir The model cache.
 * @returns One status per model, in manifest order.
 */
export async function cachedModels(cacheDir: string): Promise<CachedStatus[]> {
  const out: CachedStatus[] = [];
  for (const [id, entry] of Object.entries(models())) {
    const present: string[] = [], missing: string[] = [];
    for (const path of entry.files) {
      const f = { repo: entry.repo, revision: entry.revision, path };
      ((await isFile(cachePath(cacheDir, f))) ? present : missing).push(path);
    }
    out.push({ id, kind: entry.kind, complete: missing.length === 0, present, missing });
  }
  return out;
}
