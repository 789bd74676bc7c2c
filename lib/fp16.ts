/**
 * FP16 models and the checks around them: converted models cached by source hash, a self-test before fp16
 * results are trusted, and agreement metrics between the two precisions.
 *
 * @module
 */
import { readOnnx } from "./onnx/external.ts";
import { convertToFp16 } from "./onnx/fp16.ts";
import { sha256File, verifiedFile, writeFileAtomic, writeVerified } from "./fs.ts";
import { ClipcmpError, firstLine } from "./errors.ts";
import { loadOrt } from "./ort/runtime.ts";
import { stallPoint } from "./faults.ts";
import { topK } from "./math/cpu.ts";

async function exists(p: string): Promise<boolean> {
  return await Deno.stat(p).then(() => true, () => false);
}

/**
 * The fp16 version of an fp32 `.onnx`, converted once and cached as `<cacheDir>/fp16/<source sha256>.onnx`
 * (never written beside a user's own files), validated by loading it.
 *
 * @param src The fp32 model file.
 * @param cacheDir The model cache.
 * @param log One-line messages.
 * @returns The fp16 model's path.
 */
export async function fp16Model(src: string, cacheDir: string, log: (s: string) => void = () => {}): Promise<string> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await readOnnx(src); // external data inlined, so the converter sees every initializer
  } catch (err) {
    if (err instanceof ClipcmpError) throw err;
    throw new ClipcmpError(`Cannot read model "${src}": ${firstLine(err)}`);
  }
  const out = `${cacheDir}/fp16/${await sha256File(bytes)}.onnx`;
  const cached = await verifiedFile(out).catch(() => "corrupt" as const);
  if (cached instanceof Uint8Array) return out;
  if (cached === "corrupt") log(`fp16: cached ${out} fails its checksum (interrupted or altered); converting again`);
  let converted: Uint8Array;
  try {
    const r = convertToFp16(bytes);
    converted = r.model;
    log(
      `fp16: converted ${src} (${r.stats.convertedInitializers} initializers to float16, ${r.stats.blockedNodes} ops kept in float32)`,
    );
  } catch (err) {
    throw new ClipcmpError(`Cannot convert "${src}" to fp16: ${firstLine(err)}`);
  }
  const ort = await loadOrt();
  try {
    // A load check only. "basic": onnxruntime-web's extended wasm optimisations spend minutes on the fp16 CLIP
    // RN50 image tower (measured: > 4 min at "all", 0.2 s at "basic"); sessions that run it use their own level.
    const s = await ort.InferenceSession.create(converted, {
      executionProviders: ["wasm"],
      logSeverityLevel: 3,
      graphOptimizationLevel: "basic",
    });
    await s.release();
  } catch (err) {
    throw new ClipcmpError(`The fp16 conversion of "${src}" does not load: ${firstLine(err)}`);
  }
  await Deno.mkdir(`${cacheDir}/fp16`, { recursive: true });
  await writeVerified(out, converted as Uint8Array<ArrayBuffer>);
  return out;
}

/**
 * An fp16 CLIP directory (immich layout) built from an fp32 one: both towers converted, tokenizer files
 * copied, under `<cacheDir>/fp16/clip-<visual hash>-<text hash>/`.
 *
 * @param dir The fp32 CLIP directory.
 * @param cacheDir The model cache.
 * @param log One-line messages.
 * @returns The fp16 directory.
 */
export async function fp16ClipDir(dir: string, cacheDir: string, log: (s: string) => void = () => {}): Promise<string> {
  const visual = await fp16Model(`${dir}/visual/model.onnx`, cacheDir, log);
  await stallPoint("fp16-between-towers");
  const textual = await fp16Model(`${dir}/textual/model.onnx`, cacheDir, log);
  const name = (p: string) => p.split("/").pop()!.slice(0, 16);
  const out = `${cacheDir}/fp16/clip-${name(visual)}-${name(textual)}`;
  // The directory holds copies of the verified models; each copy is checked against the checksum fp16Model just
  // verified its source by, and replaced atomically when it differs (a kill mid-copy, a flipped bit).
  for (const [sub, from] of [["visual", visual], ["textual", textual]] as const) {
    await Deno.mkdir(`${out}/${sub}`, { recursive: true });
    const want = (await Deno.readTextFile(`${from}.sha256`)).trim();
    const have = await Deno.readFile(`${out}/${sub}/model.onnx`).catch(() => null);
    if (!have || (await sha256File(have)) !== want) {
      await writeFileAtomic(`${out}/${sub}/model.onnx`, await Deno.readFile(from));
    }
    await stallPoint(`fp16-copied-${sub}`);
  }
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    if (await exists(`${dir}/textual/${f}`)) {
      await writeFileAtomic(`${out}/textual/${f}`, await Deno.readFile(`${dir}/textual/${f}`));
    }
  }
  return out;
}

/** Agreement between fp32 and fp16 scores over the same images. */
export interface Agreement {
  /** Images compared. */
  n: number;
  /** Fraction whose top-1 class is the same. */
  top1_match: number;
  /** Fraction whose top-5 lists are the same, in order. */
  top5_match: number;
  /** Mean over images of the Spearman rank correlation of the probabilities. */
  spearman: number;
  /** Largest |logit difference|. */
  max_abs_logit_diff: number;
  /** Largest |probability difference|. */
  max_abs_prob_diff: number;
}

function ranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a]! - v[b]!);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]!] === v[idx[i]!]) j++;
    for (let k = i; k <= j; k++) r[idx[k]!] = (i + j) / 2;
    i = j + 1;
  }
  return r;
}

/**
 * Spearman's rank correlation (ties get average ranks).
 *
 * @example
 * ```ts
 * import { spearman } from "./fp16.ts";
 * if (spearman([1, 2, 3], [10, 20, 30]) !== 1 || spearman([1, 2, 3], [3, 2, 1]) !== -1) throw new Error();
 * ```
 * @param a Values.
 * @param b Values.
 * @returns The correlation in [-1, 1].
 */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = ranks(a), rb = ranks(b);
  const n = ra.length;
  const ma = ra.reduce((s, x) => s + x, 0) / n, mb = rb.reduce((s, x) => s + x, 0) / n;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) {
    num += (ra[i]! - ma) * (rb[i]! - mb);
    da += (ra[i]! - ma) ** 2;
    db += (rb[i]! - mb) ** 2;
  }
  return da && db ? num / Math.sqrt(da * db) : 1;
}

/**
 * Agreement of fp16 with fp32 over `rows` images of `width` classes.
 *
 * @param logits32 fp32 logits, row-major.
 * @param logits16 fp16 logits.
 * @param probs32 fp32 probabilities.
 * @param probs16 fp16 probabilities.
 * @param rows Images.
 * @param width Classes.
 * @returns The agreement.
 */
export function agreement(
  logits32: ArrayLike<number>,
  logits16: ArrayLike<number>,
  probs32: ArrayLike<number>,
  probs16: ArrayLike<number>,
  rows: number,
  width: number,
): Agreement {
  let t1 = 0, t5 = 0, sp = 0, dl = 0, dp = 0;
  for (let r = 0; r < rows; r++) {
    const a = Array.from({ length: width }, (_, j) => probs32[r * width + j]!);
    const b = Array.from({ length: width }, (_, j) => probs16[r * width + j]!);
    if (topK(a, 1)[0] === topK(b, 1)[0]) t1++;
    if (topK(a, 5).join() === topK(b, 5).join()) t5++;
    sp += spearman(a, b);
    for (let j = 0; j < width; j++) {
      dl = Math.max(dl, Math.abs(logits32[r * width + j]! - logits16[r * width + j]!));
      dp = Math.max(dp, Math.abs(a[j]! - b[j]!));
    }
  }
  return {
    n: rows,
    top1_match: t1 / rows,
    top5_match: t5 / rows,
    spearman: sp / rows,
    max_abs_logit_diff: dl,
    max_abs_prob_diff: dp,
  };
}

/**
 * The self-test before fp16 results are trusted: no NaN or Inf, and top-1 disagreements, counted only where
 * fp32's first and second place are clearly apart, at most `maxRate` of the samples.
 *
 * @param probs32 fp32 probabilities of a few samples.
 * @param probs16 fp16 probabilities of the same.
 * @param rows Samples.
 * @param width Classes.
 * @param opts `margin` (default 0.05) and `maxRate` (default 0.25).
 * @returns null when fp16 can be trusted, else why not.
 */
export function fp16SelfCheck(
  probs32: ArrayLike<number>,
  probs16: ArrayLike<number>,
  rows: number,
  width: number,
  opts: { margin?: number; maxRate?: number } = {},
): string | null {
  const margin = opts.margin ?? 0.05;
  const maxRate = opts.maxRate ?? 0.25;
  for (let i = 0; i < rows * width; i++) {
    if (!Number.isFinite(probs16[i]!)) return `fp16 output has ${Number.isNaN(probs16[i]!) ? "NaN" : "Inf"} values`;
  }
  let clear = 0, bad = 0;
  for (let r = 0; r < rows; r++) {
    const a = Array.from({ length: width }, (_, j) => probs32[r * width + j]!);
    const b = Array.from({ length: width }, (_, j) => probs16[r * width + j]!);
    const [i1, i2] = topK(a, 2);
    if (i2 !== undefined && a[i1!]! - a[i2]! < margin) continue;
    clear++;
    if (topK(b, 1)[0] !== i1) bad++;
  }
  if (clear > 0 && bad / clear > maxRate) {
    return `fp16 disagrees with fp32 on the top-1 of ${bad} of ${clear} clear-margin samples`;
  }
  return null;
}

/** What the fp16 checks need to run the models. */
export interface CheckContext {
  /** Where converted models are cached. */
  cacheDir: string;
  /** EP and GPU context. */
  device: import("./ort/session.ts").SessionOptions;
  /** A few decoded sample images (the first of the run). */
  samples: import("./image/decode.ts").RgbaImage[];
  /** One-line notes. */
  log?: (s: string) => void;
}

/**
 * The fp16 version of a ResNet, returned only after the self-test passes on `samples`.
 *
 * @param src The fp32 model.
 * @param ctx Cache, device, samples.
 * @returns The fp16 source to load instead.
 */
export async function checkedFp16Resnet(
  src: import("./models/resnet.ts").ResnetSource,
  ctx: CheckContext,
): Promise<import("./models/resnet.ts").ResnetSource> {
  const { ResnetModel } = await import("./models/resnet.ts");
  const { rowsToHost, releaseRows } = await import("./scoring.ts");
  const { softmaxCpu } = await import("./math/cpu.ts");
  const half = { ...src, model: await fp16Model(src.model, ctx.cacheDir, ctx.log) };
  const probs: Float32Array[] = [];
  for (const s of [src, half]) {
    const m = await ResnetModel.load(s, ctx.device);
    try {
      const rows = await m.logits(ctx.samples);
      const logits = await rowsToHost(rows);
      releaseRows(rows);
      probs.push(Float32Array.from(softmaxCpu(logits, ctx.samples.length, 1000, 1)));
    } finally {
      await m.release();
    }
  }
  const why = fp16SelfCheck(probs[0]!, probs[1]!, ctx.samples.length, 1000);
  if (why) throw new ClipcmpError(`fp16 self-test failed for ${src.model}: ${why}; use --dtype fp32`);
  ctx.log?.(`fp16 self-test passed for ${src.model} on ${ctx.samples.length} images`);
  return half;
}

/**
 * The fp16 version of a CLIP directory, returned only after the self-test passes: zero-shot probabilities of
 * `samples` over `labels` in both precisions.
 *
 * @param dir The fp32 CLIP directory.
 * @param labels Labels to score the samples over (the first 50 are used).
 * @param ctx Cache, device, samples.
 * @returns The fp16 directory to load instead.
 */
export async function checkedFp16Clip(dir: string, labels: readonly string[], ctx: CheckContext): Promise<string> {
  const { ClipModel, CLIP_LOGIT_SCALE } = await import("./models/clip.ts");
  const { buildHead } = await import("./zeroshot.ts");
  const { zeroShotDetail, releaseRows } = await import("./scoring.ts");
  const halfDir = await fp16ClipDir(dir, ctx.cacheDir, ctx.log);
  const names = labels.slice(0, 50);
  const probs: Float32Array[] = [];
  for (const d of [dir, halfDir]) {
    const clip = await ClipModel.load(d, ctx.device);
    try {
      const head = await buildHead(clip, names, ["a photo of a {}."]);
      const img = await clip.encodeImages(ctx.samples);
      probs.push(
        (await zeroShotDetail(
          img,
          head.rows,
          CLIP_LOGIT_SCALE,
        )).probs,
      );
      releaseRows(img);
      releaseRows(head.rows);
    } finally {
      await clip.release();
    }
  }
  const why = fp16SelfCheck(probs[0]!, probs[1]!, ctx.samples.length, names.length);
  if (why) throw new ClipcmpError(`fp16 self-test failed for ${dir}: ${why}; use --dtype fp32`);
  ctx.log?.(`fp16 self-test passed for ${dir} on ${ctx.samples.length} images`);
  return halfDir;
}
