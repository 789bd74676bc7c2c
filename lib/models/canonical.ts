/**
 * Models from their canonical published weights: a CLIP directory in the layout of `timm/resnet50_clip.openai`
 * (`open_clip_model.safetensors`, `open_clip_config.json`, `tokenizer.json`) or a torchvision ResNet state dict
 * (`model.safetensors`, as in `timm/resnet50.tv_in1k`) is built into ONNX graphs here, once, and cached by the
 * weights' sha256 and {@linkcode BUILDER_VERSION}:
 *
 * ```
 * <cache>/built/clip-<sha256>-<config hash>-v1/{visual/model.onnx, textual/model.onnx, textual/tokenizer.json, built.json}
 * <cache>/built/resnet-<sha256>-v1/{model.onnx, built.json}
 * ```
 *
 * A build is written to a temporary directory and renamed into place, so a kill leaves no half-built model;
 * `built.json` records each file's sha256 and every reuse checks them, rebuilding what fails. Nothing is cached
 * when the weights are malformed.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ClipcmpError, firstLine } from "../errors.ts";
import { sha256OfPath, statOrNull, tempPath, writeFileAtomic } from "../fs.ts";
import { readSafetensors } from "../weights/safetensors.ts";
import { buildClipRn, parseClipConfig } from "./arch/clip_rn.ts";
import { buildTorchvisionResnet } from "./arch/resnet_tv.ts";
import { unzip } from "../hub/zip.ts";

/** Bumped whenever the graphs built from the same weights change. */
export const BUILDER_VERSION = 1;

/** The files of a CLIP weights directory. */
export const CLIP_WEIGHTS = {
  weights: "open_clip_model.safetensors",
  config: "open_clip_config.json",
  tokenizer: "tokenizer.json",
} as const;

/** Whether `dir` is a CLIP directory of safetensors weights. */
export async function isClipWeightsDir(dir: string): Promise<boolean> {
  return (await statOrNull(`${dir}/${CLIP_WEIGHTS.weights}`))?.isFile ?? false;
}

/**
 * The torchvision state dict behind `--resnet PATH`, if PATH is one: a `.safetensors` file, or a directory with
 * `model.safetensors`.
 */
export async function resnetWeightsFile(path: string): Promise<string | null> {
  const st = await statOrNull(path);
  if (!st) return null;
  if (st.isFile && path.endsWith(".safetensors")) return path;
  if (st.isDirectory && (await statOrNull(`${path}/model.safetensors`))?.isFile) return `${path}/model.safetensors`;
  return null;
}

const sha256Of = async (path: string) => (await sha256OfPath(path)).sha256;

interface BuiltRecord {
  builder_version: number;
  kind: "clip" | "resnet";
  source: { path: string; sha256: string };
  files: Record<string, string>;
  arch: unknown;
  built_at: string;
}

/** A model built from weights. */
export interface BuiltModel {
  /** What to load: the CLIP directory, or the ResNet `.onnx`. */
  path: string;
  /** The weights' sha256. */
  weightsSha256: string;
  /** Whether the cache already held it. */
  reused: boolean;
  /** The architecture read from the weights. */
  arch: Record<string, unknown>;
}

async function verifyBuilt(dir: string): Promise<BuiltRecord | null> {
  let rec: BuiltRecord;
  try {
    rec = JSON.parse(await Deno.readTextFile(`${dir}/built.json`));
  } catch {
    return null;
  }
  if (rec.builder_version !== BUILDER_VERSION || !rec.files) return null;
  for (const [rel, sha] of Object.entries(rec.files)) {
    if (!(await statOrNull(`${dir}/${rel}`))?.isFile || (await sha256Of(`${dir}/${rel}`)) !== sha) return null;
  }
  return rec;
}

async function buildCached(
  kind: "clip" | "resnet",
  weights: string,
  cacheDir: string,
  log: (line: string) => void,
  build: () => Promise<{ files: Record<string, Uint8Array>; arch: Record<string, unknown> }>,
  variant = "",
): Promise<BuiltModel> {
  const sha = await sha256Of(weights);
  // The same weights built with another config (activation, heads) are another graph: the key holds both.
  const tag = variant ? `-${createHash("sha256").update(variant).digest("hex").slice(0, 12)}` : "";
  const dir = `${cacheDir}/built/${kind}-${sha}${tag}-v${BUILDER_VERSION}`;
  if (await statOrNull(dir)) {
    const rec = await verifyBuilt(dir);
    if (rec) return { path: dir, weightsSha256: sha, reused: true, arch: rec.arch as Record<string, unknown> };
    log(`built graphs in ${dir} fail their sha256 check; building them again`);
  }
  const t0 = performance.now();
  const { files, arch } = await build();
  const tmp = tempPath(dir);
  try {
    const record: BuiltRecord = {
      builder_version: BUILDER_VERSION,
      kind,
      source: { path: weights, sha256: sha },
      files: {},
      arch,
      built_at: new Date().toISOString(),
    };
    for (const [rel, bytes] of Object.entries(files)) {
      const p = `${tmp}/${rel}`;
      await Deno.mkdir(p.slice(0, p.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(p, bytes);
      record.files[rel] = createHash("sha256").update(bytes).digest("hex");
    }
    await writeFileAtomic(`${tmp}/built.json`, JSON.stringify(record, null, 2) + "\n");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    try {
      await Deno.rename(tmp, dir);
    } catch (err) {
      // Another process finished the same build first: keep its copy if it verifies.
      if (!(await verifyBuilt(dir))) throw err;
    }
  } catch (err) {
    throw new ClipcmpError(`Cannot write the built model to "${dir}": ${firstLine(err)}`);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  log(`built ONNX graphs from ${weights} in ${((performance.now() - t0) / 1000).toFixed(1)} s (cached in ${dir})`);
  return { path: dir, weightsSha256: sha, reused: false, arch };
}

/**
 * Builds (or reuses) the CLIP graphs of a weights directory, returning a CLIP directory in the layout
 * {@linkcode ClipModel.load} reads.
 *
 * @example
 * ```ts ignore
 * const built = await buildClipFromWeights("models/fixtures/weights/clip-rn-tiny", "/tmp/cache");
 * const clip = await ClipModel.load(built.path, { ep: "wasm" });
 * ```
 * @param dir The weights directory.
 * @param cacheDir Where built graphs are cached.
 * @param log One-line notes.
 * @returns The built model.
 */
export async function buildClipFromWeights(
  dir: string,
  cacheDir: string,
  log: (line: string) => void = () => {},
): Promise<BuiltModel> {
  const weights = `${dir}/${CLIP_WEIGHTS.weights}`;
  const tokenizer = `${dir}/${CLIP_WEIGHTS.tokenizer}`;
  if (!(await statOrNull(tokenizer))?.isFile) {
    throw new ClipcmpError(`--clip "${dir}": no ${CLIP_WEIGHTS.tokenizer} beside the weights`);
  }
  const configPath = `${dir}/${CLIP_WEIGHTS.config}`;
  let configJson: unknown = {};
  if ((await statOrNull(configPath))?.isFile) {
    try {
      configJson = JSON.parse(await Deno.readTextFile(configPath));
    } catch (err) {
      throw new ClipcmpError(`Cannot read "${configPath}": ${firstLine(err)}`);
    }
  }
  const cfg = parseClipConfig(configJson);
  const built = await buildCached("clip", weights, cacheDir, log, async () => {
    const st = await readSafetensors(weights);
    const meta = { source: weights, builder: `clipcmp canonical builder v${BUILDER_VERSION}` };
    const b = buildClipRn(st, cfg, meta);
    return {
      files: {
        "visual/model.onnx": b.visual,
        "textual/model.onnx": b.textual,
        "textual/tokenizer.json": await Deno.readFile(tokenizer),
      },
      arch: b.arch,
    };
  }, JSON.stringify(cfg));
  if (!cfg.quickGelu) {
    log(`${configPath} says quick_gelu false: the text tower uses exact GELU (not OpenAI's activation)`);
  }
  return built;
}

/**
 * Builds (or reuses) the ONNX graph of a torchvision ResNet state dict.
 *
 * @param weights The `.safetensors` file.
 * @param cacheDir Where built graphs are cached.
 * @param log One-line notes.
 * @returns The built model; `path` is the `.onnx` (input `pixel_values`, ImageNet-normalised).
 */
export async function buildResnetFromWeights(
  weights: string,
  cacheDir: string,
  log: (line: string) => void = () => {},
): Promise<BuiltModel> {
  const built = await buildCached("resnet", weights, cacheDir, log, async () => {
    const st = await readSafetensors(weights);
    const b = buildTorchvisionResnet(st, { source: weights, builder: `clipcmp canonical builder v${BUILDER_VERSION}` });
    return { files: { "model.onnx": b.model }, arch: { layers: b.layers, classes: b.classes } };
  });
  return { ...built, path: `${built.path}/model.onnx` };
}

/**
 * What `--clip DIR` loads: a weights directory is built (or taken from the cache) into the ONNX layout; any
 * other directory is returned as it is.
 *
 * @param dir The `--clip` directory.
 * @param cacheDir The model cache.
 * @param log One-line notes.
 * @returns A directory in the layout {@linkcode ClipModel.load} reads.
 */
export async function resolveClipDir(
  dir: string,
  cacheDir: string,
  log: (line: string) => void,
): Promise<{ dir: string; weights?: string }> {
  if (!(await isClipWeightsDir(dir))) return { dir };
  const built = await buildClipFromWeights(dir, cacheDir, log);
  if (built.reused) {
    log(`CLIP: graphs built from ${dir} (weights sha256 ${built.weightsSha256.slice(0, 12)}…) reused from the cache`);
  }
  return { dir: built.path, weights: `${dir}/${CLIP_WEIGHTS.weights}` };
}

/**
 * What `--resnet PATH` loads: torchvision weights (a `.safetensors` file, or a directory holding
 * `model.safetensors`) are built into an ONNX graph that takes ImageNet-normalised input; anything else is
 * returned as it is.
 *
 * @param path The `--resnet` value.
 * @param cacheDir The model cache.
 * @param log One-line notes.
 * @returns The path to resolve further, and the input normalisation when the build decides it.
 */
export async function resolveResnetPath(
  path: string,
  cacheDir: string,
  log: (line: string) => void,
): Promise<{ path: string; input?: "imagenet"; weights?: string }> {
  if (path.endsWith(".zip") && (await statOrNull(path))?.isFile) return { path: await unzipBundle(path, cacheDir) };
  const weights = await resnetWeightsFile(path);
  if (!weights) return { path };
  const built = await buildResnetFromWeights(weights, cacheDir, log);
  if (built.reused) {
    log(`ResNet: graph built from ${weights} (sha256 ${built.weightsSha256.slice(0, 12)}…) reused from the cache`);
  }
  return { path: built.path, input: "imagenet", weights };
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
 * Extracts a model bundle (a `.zip` holding one `.onnx`, with any external data files beside it, as Qualcomm AI
 * Hub ships them) into `<cache>/unzipped/<sha256>/`, once, and returns the `.onnx` path. The extraction is
 * written to a temporary directory and renamed into place.
 *
 * @param zip The archive.
 * @param cacheDir The model cache.
 * @returns The extracted `.onnx`.
 */
export async function unzipBundle(zip: string, cacheDir: string): Promise<string> {
  const dir = `${cacheDir}/unzipped/${await sha256Of(zip)}`;
  if (!(await statOrNull(`${dir}/.extracted`))?.isFile) {
    const tmp = tempPath(dir);
    try {
      await unzip(zip, tmp);
      await Deno.writeTextFile(`${tmp}/.extracted`, new Date().toISOString());
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.rename(tmp, dir);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }
  const onnx = await findOnnx(dir);
  if (onnx.length !== 1) throw new ClipcmpError(`"${zip}" should hold one .onnx model, found ${onnx.length}`);
  return onnx[0]!;
}
