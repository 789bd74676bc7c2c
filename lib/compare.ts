/**
 * Part 4's core: both models on the same images and the same label set (the union of the classes present in
 * every domain evaluated). CLIP gives softmax(100 * cos) over the set's prompts; ResNet's 1000 logits are
 * restricted to the set's class indices, and its unrestricted 1000-way top-5 is kept beside that. Images are
 * processed in chunks, so dataset-sized domains do not sit in memory.
 *
 * @module
 */
import { readOnnx } from "./onnx/external.ts";
import { classFromFileName, type ImagenetClass, imagenetClasses } from "./data/imagenet.ts";
import { decodeImageFile, type DecodeOptions, precheckImageFile, type RgbaImage } from "./image/decode.ts";
import { activationNote, CLIP_LOGIT_SCALE, type ClipModel } from "./models/clip.ts";
import type { ModelSession } from "./ort/session.ts";
import type { ResnetModel } from "./models/resnet.ts";
import { classTopK, finiteOrThrow, releaseRows, type TopKRows, zeroShotTopK } from "./scoring.ts";
import { buildHead, type HeadCache } from "./zeroshot.ts";
import { firstLine } from "./errors.ts";
import { DeviceLostError } from "./gpu/context.ts";
import { headProgress, progressLine } from "./progress_line.ts";
import { fault } from "./faults.ts";
import type { ResolvedDevice } from "./device.ts";
import { docHeader, runPlace } from "./envelope.ts";
import { type EvalRecord, likeForLike, perClass, scoredAccuracy, summarizeDomains } from "./report/metrics.ts";
import { onnxInitializers } from "./onnx/proto.ts";
import { encodePng, thumbnail } from "./image/png.ts";
import { encodeBase64 } from "./base64.ts";
import { modelNameOfPath, moreModelKey } from "./models/resolve.ts";
import { resultPreds } from "./report/analysis.ts";
import type { CompareDocument, CompareResult, ModelFile, Score } from "./documents.ts";

export type { CompareDocument, CompareResult, ModelFile, Score } from "./documents.ts";

/** A named set of images. */
export interface DomainInput {
  /** Domain name, e.g. `photo`, `sketch`, or a `--dataset` name. */
  name: string;
  /** Image paths. */
  paths: string[];
  /**
   * For a class-name ImageFolder: each path's class id (an ImageNet index, or from 1000 up for a class outside
   * ImageNet, named in {@linkcode CompareOptions.classNames}). Without it, classes come from wnids in the paths.
   */
  classes?: ReadonlyMap<string, number>;
}

/** Why a run stopped when it was interrupted (Ctrl-C). */
export const INTERRUPTED = "interrupted (Ctrl-C)";

/** Options for {@linkcode compareModels}. */
export interface CompareOptions {
  /** Domains; each image's class comes from a WordNet id prefix of its name or its folder's name. */
  domains: DomainInput[];
  /** The CLIP model, or undefined to skip it. */
  clip?: ClipModel;
  /** The ResNet, or undefined to skip it. */
  resnet?: ResnetModel;
  /** Further models, scored beside the first of their kind on the same label set (keys `clip_2`, `resnet_2`, ...). */
  more?: { clip: { model: ClipModel; name: string }[]; resnet: { model: ResnetModel; name: string }[] };
  /** Stops the run after the current chunk (Ctrl-C): what finished is kept and reported, the rest listed. */
  signal?: AbortSignal;
  /** The models' names in tables and reports (default: their file or folder names). */
  names?: { clip?: string; resnet?: string };
  /** The resolved device. */
  device: ResolvedDevice;
  /** Prompt templates with `{}`; one or many (the head averages them). */
  templates: readonly string[];
  /** EXIF orientation and alpha handling (PIL's defaults when omitted). */
  decode?: DecodeOptions;
  /** Where to cache the zero-shot head. */
  headCache?: HeadCache;
  /** The precision of the models given (recorded in the provenance). */
  dtype?: "fp32" | "fp16";
  /** Longest side of report thumbnails; 0 for none. */
  thumbnails?: number;
  /** Progress messages (stderr). */
  log?: (line: string) => void;
  /** Prompt names of the classes outside ImageNet (ids from 1000 up) that class-name domains use. */
  classNames?: ReadonlyMap<number, string>;
}

/** Images decoded and scored per chunk. */
export const COMPARE_CHUNK = 64;

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

async function modelFile(session: ModelSession): Promise<ModelFile> {
  const { path, sha256 } = session;
  const inits = onnxInitializers(await readOnnx(path));
  const out: ModelFile = { path, sha256, initializer_elements: inits.reduce((a, t) => a + t.elements, 0) };
  const note = activationNote(session);
  if (note) out.activation_note = note;
  return out;
}

/**
 * Runs the comparison.
 *
 * @example
 * ```ts ignore
 * const { doc } = await compareModels({ domains: [{ name: "photo", paths }], clip, resnet, device, templates: ["a photo of a {}."] });
 * console.log(doc.domains);
 * ```
 * @param opts What to compare.
 * @returns The document, and PNG thumbnails as data URIs keyed by path (when asked for).
 */
export async function compareModels(
  opts: CompareOptions,
): Promise<{ doc: CompareDocument; thumbnails: Map<string, string> }> {
  const log = opts.log ?? (() => {});
  const skipped: CompareDocument["skipped"] = [];
  const items: { path: string; domain: string; cls: ImagenetClass }[] = [];
  const classes = imagenetClasses();
  /** A class by id: an ImageNet class, or one outside ImageNet by its name (no wnid). */
  const classById = (id: number): ImagenetClass | undefined =>
    classes[id] ??
      (opts.classNames?.has(id) ? { index: id, wnid: "", keras: "", clip: opts.classNames.get(id)! } : undefined);
  for (const d of opts.domains) {
    for (const path of d.paths) {
      const given = d.classes?.get(path);
      const cls = given === undefined ? classOfPath(path) : classById(given);
      if (cls) {
        try {
          // Unreadable and non-image files are dropped before the label set is made from the rest.
          await precheckImageFile(path);
          items.push({ path, domain: d.name, cls });
        } catch (err) {
          skipped.push({ path, domain: d.name, reason: firstLine(err) });
        }
      } else {
        skipped.push({
          path,
          domain: d.name,
          reason: "cannot tell its class: name the file or its folder by ImageNet WordNet id (e.g. n01614925_x.jpg)",
        });
      }
    }
  }
  const setIdx = [...new Set(items.map((u) => u.cls.index))].sort((a, b) => a - b);
  const labelSet = setIdx.map((i) => ({ label: classById(i)!.clip, index: i, wnid: classById(i)!.wnid }));
  const m = setIdx.length;
  const k = Math.min(5, m);
  // ResNets score only the label set's ImageNet classes, and only images of those classes.
  const resIdx = setIdx.filter((i) => i < 1000);
  const kRes = Math.min(5, resIdx.length);
  if (resIdx.length < m && (opts.resnet || opts.more?.resnet.length)) {
    log(`ResNet: scores ${resIdx.length} of the ${m} classes (the rest are not ImageNet classes)`);
  }

  let head: Awaited<ReturnType<typeof buildHead>> | null = null;
  if (opts.clip && m > 0) {
    log(`CLIP: building the zero-shot head, ${m} labels x ${opts.templates.length} template(s)`);
    head = await buildHead(
      opts.clip,
      labelSet.map((l) => l.label),
      opts.templates,
      headProgress(log),
      opts.headCache,
    );
    for (const p of head.truncated) log(`warning: prompt over 77 tokens, truncated: "${p.slice(0, 60)}…"`);
  }
  // The further models, each with its key; CLIPs with their own zero-shot heads over the same label set.
  const moreClips: { key: string; name: string; model: ClipModel; head: Awaited<ReturnType<typeof buildHead>> }[] = [];
  const moreResnets = (opts.more?.resnet ?? []).map((r, i) => ({ key: moreModelKey("resnet", i), ...r }));
  if (m > 0) {
    for (const [i, c] of (opts.more?.clip ?? []).entries()) {
      log(`${c.name}: building the zero-shot head, ${m} labels x ${opts.templates.length} template(s)`);
      const h = await buildHead(
        c.model,
        labelSet.map((l) => l.label),
        opts.templates,
        headProgress(log),
        opts.headCache,
      );
      moreClips.push({ key: moreModelKey("clip", i), name: c.name, model: c.model, head: h });
    }
  }
  const toScores = (top: TopKRows, row: number, indexOf: (j: number) => number): Score[] =>
    Array.from(top.indices.subarray(row * top.k, (row + 1) * top.k), (j, s) => ({
      label: classById(indexOf(j))!.clip,
      index: indexOf(j),
      score: top.values[row * top.k + s]!,
    }));

  const results: CompareResult[] = [];
  const thumbs = new Map<string, string>();
  const t0 = performance.now();
  const loseAfter = Number(fault("lose-device-after") ?? NaN);
  let incomplete: string | null = null;
  try {
    for (let c0 = 0; c0 < items.length; c0 += COMPARE_CHUNK) {
      if (opts.device.gpu && results.length >= loseAfter && !opts.device.gpu.lost) {
        opts.device.gpu.destroy(); // injected by CLIPCMP_FAULTS=lose-device-after=N
        await opts.device.gpu.device.lost;
        await Promise.resolve();
      }
      if (opts.device.gpu?.lost || opts.signal?.aborted) {
        incomplete = opts.signal?.aborted ? INTERRUPTED : new DeviceLostError(opts.device.gpu!.lost!).message;
        for (const it of items.slice(c0)) {
          skipped.push({ path: it.path, domain: it.domain, reason: `not run: ${incomplete}` });
        }
        break;
      }
      const chunk: { path: string; domain: string; cls: ImagenetClass; image: RgbaImage }[] = [];
      for (const it of items.slice(c0, c0 + COMPARE_CHUNK)) {
        try {
          chunk.push({ ...it, image: await decodeImageFile(it.path, opts.decode) });
        } catch (err) {
          skipped.push({ path: it.path, domain: it.domain, reason: firstLine(err) });
        }
      }
      if (chunk.length === 0) continue;
      try {
        const images = chunk.map((c) => c.image);
        let clipTop: TopKRows | null = null;
        if (opts.clip && head) {
          const emb = await opts.clip.encodeImages(images);
          try {
            clipTop = await finiteOrThrow(
              opts.clip.visual.session.path,
              chunk.map((c) => c.path),
              zeroShotTopK(emb, head.rows, CLIP_LOGIT_SCALE, k),
            );
          } finally {
            releaseRows(emb);
          }
        }
        let resSet: TopKRows | null = null;
        let resAll: TopKRows | null = null;
        if (opts.resnet && resIdx.length) {
          const logits = await opts.resnet.logits(images);
          try {
            const model = opts.resnet.graph.session.path;
            const paths = chunk.map((c) => c.path);
            resSet = await finiteOrThrow(model, paths, classTopK(logits, resIdx, kRes));
            resAll = await finiteOrThrow(model, paths, classTopK(logits, undefined, 5));
          } finally {
            releaseRows(logits);
          }
        }
        const more: Record<string, TopKRows> = {};
        for (const c of moreClips) {
          const emb = await c.model.encodeImages(images);
          try {
            more[c.key] = await finiteOrThrow(
              c.model.visual.session.path,
              chunk.map((x) => x.path),
              zeroShotTopK(emb, c.head.rows, CLIP_LOGIT_SCALE, k),
            );
          } finally {
            releaseRows(emb);
          }
        }
        for (const r of resIdx.length ? moreResnets : []) {
          const logits = await r.model.logits(images);
          try {
            more[r.key] = await finiteOrThrow(
              r.model.graph.session.path,
              chunk.map((x) => x.path),
              classTopK(logits, resIdx, kRes),
            );
          } finally {
            releaseRows(logits);
          }
        }
        for (const [i, c] of chunk.entries()) {
          results.push({
            path: c.path,
            domain: c.domain,
            true: { label: c.cls.clip, index: c.cls.index, wnid: c.cls.wnid },
            clip: clipTop ? { top5: toScores(clipTop, i, (j) => setIdx[j]!) } : null,
            // An image of a class outside ImageNet is not scored by the ResNets.
            resnet: resSet && resAll && c.cls.index < 1000
              ? { top5: toScores(resSet, i, (j) => resIdx[j]!), top5_1000: toScores(resAll, i, (j) => j) }
              : null,
            ...(Object.keys(more).length
              ? {
                more: Object.fromEntries(
                  Object.entries(more).flatMap(([key, top]) =>
                    key.startsWith("resnet") && c.cls.index >= 1000
                      ? []
                      : [[key, { top5: toScores(top, i, (j) => (key.startsWith("resnet") ? resIdx : setIdx)[j]!) }]]
                  ),
                ),
              }
              : {}),
          });
          if (opts.thumbnails) {
            thumbs.set(
              c.path,
              `data:image/png;base64,${encodeBase64(await encodePng(thumbnail(c.image, opts.thumbnails)))}`,
            );
          }
        }
      } catch (err) {
        // A device lost mid-chunk: keep what finished, list the rest as not run, and stop cleanly.
        if (!opts.device.gpu?.lost) throw err;
        incomplete = new DeviceLostError(opts.device.gpu.lost).message;
        const done = new Set(results.map((r) => r.path));
        for (const it of items.slice(c0)) {
          if (!done.has(it.path)) skipped.push({ path: it.path, domain: it.domain, reason: `not run: ${incomplete}` });
        }
        break;
      }
      log(
        progressLine(
          "scored",
          Math.min(items.length, c0 + COMPARE_CHUNK),
          items.length,
          "images",
          (performance.now() - t0) / 1000,
        ),
      );
    }
  } finally {
    if (head) releaseRows(head.rows);
    for (const c of moreClips) releaseRows(c.head.rows);
  }

  const moreKeys = [...moreClips.map((c) => c.key), ...moreResnets.map((r) => r.key)];
  const models = [
    ...(opts.clip ? ["clip"] : []),
    ...moreClips.map((c) => c.key),
    ...(opts.resnet ? ["resnet", "resnet_1000"] : []),
    ...moreResnets.map((r) => r.key),
  ];
  const records: EvalRecord[] = results.map((r) => ({
    domain: r.domain,
    true: { index: r.true.index, wnid: r.true.wnid },
    preds: resultPreds(r),
  }));
  const wnidOf = (i: number) => classes[i]?.wnid ?? "";
  const overall = (key: string) => models.includes(key) ? scoredAccuracy(records, key, wnidOf) : null;
  const clip = opts.clip;
  const resnet = opts.resnet;
  const doc: CompareDocument = {
    ...docHeader("compare"),
    provenance: {
      ...runPlace(opts.device),
      dtype: opts.dtype ?? "fp32",
      templates: [...opts.templates],
      logit_scale: CLIP_LOGIT_SCALE,
      models: {
        clip: clip
          ? {
            name: opts.names?.clip ?? modelNameOfPath(clip.dir),
            dir: clip.dir,
            visual: await modelFile(clip.visual.session),
            textual: await modelFile(clip.textual),
            tokenizer: clip.tokenizer.path,
            preprocessing: recipeLine({ name: "clip", resize: 224, crop: 224, filter: "bicubic" }),
          }
          : null,
        resnet: resnet
          ? {
            name: opts.names?.resnet ?? modelNameOfPath(resnet.source.model),
            ...await modelFile(resnet.graph.session),
            preprocessing: recipeLine(resnet.source.recipe),
          }
          : null,
        more: [
          ...await Promise.all(moreClips.map(async (c) => ({
            key: c.key,
            kind: "clip" as const,
            name: c.name,
            dir: c.model.dir,
            visual: await modelFile(c.model.visual.session),
            textual: await modelFile(c.model.textual),
            preprocessing: recipeLine({ name: "clip", resize: 224, crop: 224, filter: "bicubic" }),
          }))),
          ...await Promise.all(moreResnets.map(async (r) => ({
            key: r.key,
            kind: "resnet" as const,
            name: r.name,
            ...await modelFile(r.model.graph.session),
            preprocessing: recipeLine(r.model.source.recipe),
          }))),
        ],
      },
    },
    label_set: labelSet,
    domains: records.length ? summarizeDomains(records, models, wnidOf) : [],
    like_for_like: records.length ? likeForLike(records, models, wnidOf) : [],
    per_class: perClass(records, models),
    results,
    skipped,
    summary: {
      n: results.length,
      skipped: skipped.length,
      clip: overall("clip"),
      resnet: overall("resnet"),
      resnet_1000: overall("resnet_1000"),
      more: Object.fromEntries(
        moreKeys.flatMap((key) => {
          const a = scoredAccuracy(records, key, wnidOf);
          return a ? [[key, a]] : [];
        }),
      ),
    },
    incomplete,
  };
  return { doc, thumbnails: thumbs };
}
