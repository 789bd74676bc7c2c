/**
 * The model manifest (`models/manifest.json`): the real models clipcmp can fetch, with the inputs and outputs
 * each must have, and fetching a whole model into the cache.
 *
 * @module
 */
import manifestJson from "../../models/manifest.json" with { type: "json" };
import { ClipcmpError } from "../errors.ts";
import { cachePath, ensureFile, type HubOptions } from "../hub/download.ts";
import { unzip } from "../hub/zip.ts";
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
  /** Revision. */
  revision: string;
  /** Files to fetch. */
  files: string[];
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

const MODELS = manifestJson.models as unknown as Record<string, ManifestEntry>;

/**
 * The manifest's entries.
 *
 * @example
 * ```ts
 * import { manifest } from "./manifest.ts";
 * if (manifest()["clip-rn50"]?.repo !== "immich-app/RN50__openai") throw new Error();
 * ```
 * @returns Entries by id.
 */
export function manifest(): Readonly<Record<string, ManifestEntry>> {
  return MODELS;
}

/** The default model id of a kind. */
export function defaultModelId(kind: "clip" | "resnet"): string {
  return Object.entries(MODELS).find(([, m]) => m.kind === kind && m.default)![0];
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

async function findOnnx(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await findOnnx(p));
    else if (e.name.endsWith(".onnx")) out.push(p);
  }
  return out;
}

/**
 * Makes sure every file of a manifest model is cached (downloading what is missing unless offline) and returns
 * what to load. Offline, all missing files are named in one message.
 *
 * @param id Manifest id, e.g. `clip-rn50`.
 * @param opts Hub and cache options.
 * @returns The cached model.
 */
export async function ensureModel(id: string, opts: HubOptions): Promise<CachedModel> {
  const entry = MODELS[id];
  if (!entry) throw new ClipcmpError(`Unknown model "${id}": known models are ${Object.keys(MODELS).join(", ")}`);
  const files = entry.files.map((path) => ({ repo: entry.repo, revision: entry.revision, path }));
  if (opts.offline) {
    const missing = [];
    for (const f of files) if (!(await isFile(cachePath(opts.cacheDir, f)))) missing.push(f.path);
    if (missing.length) {
      const flag = entry.kind === "clip" ? "--clip DIR" : "--resnet FILE|DIR";
      throw new ClipcmpError(
        `Model ${id} (${entry.repo}) is not in the cache at ${opts.cacheDir} (missing ${
          missing.join(", ")
        }) and --offline forbids downloading it; run once online, or pass a local model with ${flag}`,
      );
    }
  }
  for (const f of files) await ensureFile(f, opts);
  const root = cachePath(opts.cacheDir, { repo: entry.repo, revision: entry.revision, path: "" }).replace(/\/$/, "");
  if (!entry.unzip) return { id, entry, path: root };
  const zip = `${root}/${entry.unzip}`;
  const dir = `${zip}.d`;
  const done = `${dir}/.extracted`;
  if (!(await isFile(done))) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await unzip(zip, dir);
    await Deno.writeTextFile(done, new Date().toISOString());
  }
  const onnx = await findOnnx(dir);
  if (onnx.length !== 1) throw new ClipcmpError(`"${zip}" should hold one .onnx model, found ${onnx.length}`);
  return { id, entry, path: onnx[0]! };
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
