/**
 * Zero-shot classification with CLIP: labels and prompt templates, the zero-shot head (per class, the
 * L2-normalised mean of its prompts' L2-normalised embeddings), and label-file parsing.
 *
 * @module
 */
import clip80 from "../data/clip/clip_templates.json" with { type: "json" };
import simple7 from "../data/clip/clip_templates_simple7.json" with { type: "json" };
import type { ClipModel } from "./models/clip.ts";
import type { Rows } from "./models/vision.ts";
import { releaseRows, rowsToHost } from "./scoring.ts";
import { createBufferWith } from "./gpu/readback.ts";
import { firstLine, UsageError } from "./errors.ts";
import { decodeNpy, encodeNpy } from "./npy.ts";
import { verifiedFile, writeVerified } from "./fs.ts";
import { createHash } from "node:crypto";
import { classOfImagePath, type ImagenetClass } from "./data/imagenet.ts";
import { wilson } from "./report/metrics.ts";

/** The seed's single prompt, and our default. */
export const DEFAULT_TEMPLATE = "a photo of a {}.";

/** CLIP's 80 ImageNet templates. */
export const CLIP80_TEMPLATES: readonly string[] = clip80 as string[];

/** The 7-template subset CLIP found by forward selection. */
export const SIMPLE7_TEMPLATES: readonly string[] = simple7 as string[];

/**
 * The template sets known by name: `clip80` (CLIP's 80 ImageNet prompts) and `simple7`.
 *
 * @example
 * ```ts
 * import { namedTemplates } from "./zeroshot.ts";
 * if (namedTemplates("clip80")?.length !== 80 || namedTemplates("other") !== undefined) throw new Error();
 * ```
 * @param name The name.
 * @returns The templates, or undefined for an unknown name.
 */
export function namedTemplates(name: string): readonly string[] | undefined {
  return name === "clip80" ? CLIP80_TEMPLATES : name === "simple7" ? SIMPLE7_TEMPLATES : undefined;
}

/** A label to score: the prompting text and its index (ImageNet index, or position in the user's list). */
export interface Label {
  /** The text used for prompting. */
  label: string;
  /** ImageNet class index for ImageNet labels, else the position in the user's list. */
  index: number;
}

/**
 * Checks labels: none empty, no duplicates (their probabilities would split).
 *
 * @param labels The labels.
 * @param source Where they came from, for messages (e.g. `--labels`).
 */
export function validateLabels(labels: readonly Label[], source: string): void {
  if (labels.length === 0) throw new UsageError(`${source} gives no labels`);
  const seen = new Map<string, number>();
  labels.forEach((l, i) => {
    if (l.label.trim() === "") throw new UsageError(`${source}: label ${i + 1} is empty`);
    const key = l.label.trim().toLowerCase();
    if (seen.has(key)) {
      throw new UsageError(`${source}: "${l.label}" appears twice (positions ${seen.get(key)! + 1} and ${i + 1})`);
    }
    seen.set(key, i);
  });
}

/**
 * Checks templates: each must contain `{}` where the label goes.
 *
 * @param templates The templates.
 * @param source Where they came from, for messages.
 */
export function validateTemplates(templates: readonly string[], source: string): void {
  if (templates.length === 0) throw new UsageError(`${source} gives no templates`);
  templates.forEach((t, i) => {
    if (!t.includes("{}")) throw new UsageError(`${source}: template ${i + 1} has no {} where the label goes: "${t}"`);
  });
}

/**
 * Parses a labels file: one label per line, or an `{index: label}` dict such as the seed's
 * `imagenet1000_clsidx_to_labels.txt` (`{0: 'tench, Tinca tinca',` …), written as a Python literal or as JSON, on
 * one line or many, with or without its braces on lines of their own. In a dict the index is kept and the first
 * comma-separated name is the label; a `[wnid, name]` value (as in `imagenet_class_index.json`) gives the name.
 * A file that starts like a dict but does not parse, or repeats an index, is refused.
 *
 * @example
 * ```ts
 * import { parseLabelsFile } from "./zeroshot.ts";
 * const seed = parseLabelsFile("{0: 'tench, Tinca tinca',\n 1: 'goldfish, Carassius auratus',\n}");
 * if (seed[1]!.label !== "goldfish" || seed[1]!.index !== 1) throw new Error(JSON.stringify(seed));
 * const json = parseLabelsFile('{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}');
 * if (json[0]!.label !== "tench") throw new Error();
 * const plain = parseLabelsFile("cat\ndog\n\n");
 * if (plain.length !== 2 || plain[1]!.index !== 1) throw new Error();
 * ```
 * @param text The file's text.
 * @param source Where it came from, for messages.
 * @returns The labels.
 */
export function parseLabelsFile(text: string, source = "the labels file"): Label[] {
  const body = text.replace(/^\uFEFF/, "").trim();
  const dictLike = body.startsWith("{") || /^\s*["']?\d+["']?\s*:/.test(body);
  if (!dictLike) {
    return body.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "").map((label, index) => ({ label, index }));
  }
  return parseIndexDict(body.startsWith("{") ? body : `{${body}}`, source);
}

/** A small tokenizer and parser for `{int: 'str' | "str" | [str, str], ...}` in Python or JSON syntax. */
function parseIndexDict(src: string, source: string): Label[] {
  let i = 0;
  const fail = (what: string): never => {
    const line = src.slice(0, i).split("\n").length;
    throw new UsageError(
      `${source}: ${what} at line ${line}; expected one label per line or an {index: 'label'} dict (Python or JSON)`,
    );
  };
  const ws = () => {
    for (;;) {
      while (i < src.length && /\s/.test(src[i]!)) i++;
      if (src[i] !== "#") return;
      while (i < src.length && src[i] !== "\n") i++; // a Python comment
    }
  };
  const str = (): string => {
    const q = src[i];
    if (q !== "'" && q !== '"') fail("a quoted string was expected");
    i++;
    let out = "";
    while (i < src.length && src[i] !== q) {
      if (src[i] === "\n") fail("a string runs past the end of its line");
      if (src[i] === "\\") {
        const e = src[++i];
        out += e === "n" ? "\n" : e === "t" ? "\t" : (e ?? "");
        i++;
      } else out += src[i++];
    }
    if (src[i] !== q) fail("a string is not closed");
    i++;
    return out;
  };
  const out: Label[] = [];
  const seen = new Set<number>();
  ws();
  if (src[i] !== "{") fail("'{' was expected");
  i++;
  for (;;) {
    ws();
    if (src[i] === "}") break;
    let key: string;
    if (src[i] === "'" || src[i] === '"') key = str();
    else {
      const m = /^\d+/.exec(src.slice(i));
      if (!m) fail("an index was expected");
      key = m![0];
      i += key.length;
    }
    if (!/^\d+$/.test(key)) fail(`the key "${key}" is not an index`);
    const index = Number(key);
    ws();
    if (src[i] !== ":") fail("':' was expected");
    i++;
    ws();
    let label: string;
    if (src[i] === "[") {
      i++;
      const items: string[] = [];
      for (;;) {
        ws();
        if (src[i] === "]") break;
        items.push(str());
        ws();
        if (src[i] === ",") i++;
        else if (src[i] !== "]") fail("',' or ']' was expected");
      }
      i++;
      if (items.length === 0) fail(`index ${index} has an empty list`);
      label = items[items.length - 1]!;
    } else label = str().split(",")[0]!.trim();
    if (seen.has(index)) fail(`index ${index} appears twice`);
    seen.add(index);
    out.push({ index, label });
    ws();
    if (src[i] === ",") i++;
    else if (src[i] !== "}") fail("',' or '}' was expected");
  }
  i++;
  ws();
  if (i < src.length) fail("text follows the closing '}'");
  if (out.length === 0) fail("the dict is empty");
  return out;
}

/** Progress of a head build. */
export type HeadProgress = (done: number, total: number) => void;

/** Where zero-shot heads are cached on disk, and where to report hits and misses. */
export interface HeadCache {
  /** The model cache directory; heads go to `<dir>/heads/<key>.npy`. */
  dir: string;
  /** One-line messages (stderr). */
  log?: (line: string) => void;
}

/**
 * The cache key of a head: the text tower's sha256, the labels and the templates.
 *
 * @param modelSha256 The text tower's file hash.
 * @param labels The labels.
 * @param templates The templates.
 * @returns A hex key.
 */
export function headKey(modelSha256: string, labels: readonly string[], templates: readonly string[]): string {
  return createHash("sha256").update(`${modelSha256}\n${JSON.stringify(labels)}\n${JSON.stringify(templates)}`).digest(
    "hex",
  );
}

/**
 * Builds the zero-shot head: for each label, the prompts from every template are embedded, each embedding
 * L2-normalised, averaged, and the mean normalised again (CLIP's recipe). With one template it is the
 * prompt's normalised embedding.
 *
 * @example
 * ```ts ignore
 * const head = await buildHead(clip, ["cat", "dog"], CLIP80_TEMPLATES);
 * ```
 * @param clip The model.
 * @param labels Prompting texts, one per class.
 * @param templates Templates with `{}`.
 * @param progress Called after each chunk of classes.
 * @param cache Where to keep heads as `.npy`, keyed by model hash, labels and templates; a hit skips the text
 *   tower entirely. An unwritable cache only costs a warning.
 * @returns [labels, dim] rows (on the GPU for webgpu), the prompts truncated to 77 tokens, and whether the
 *   head came from the cache.
 */
export async function buildHead(
  clip: ClipModel,
  labels: readonly string[],
  templates: readonly string[],
  progress?: HeadProgress,
  cache?: HeadCache,
): Promise<{ rows: Rows; truncated: string[]; cached: boolean }> {
  const d = clip.dim;
  // Over-long prompts are reported whether or not the head comes from the cache.
  const truncated = labels.flatMap((l) => templates.map((t) => t.replaceAll("{}", l))).filter((p) =>
    clip.tokenizer.encode(p).truncated
  );
  const file = cache ? `${cache.dir}/heads/${headKey(clip.textual.sha256, labels, templates)}.npy` : null;
  if (file) {
    try {
      const bytes = await verifiedFile(file);
      if (bytes === "corrupt") {
        cache!.log?.(`zero-shot head: cached ${file} fails its checksum (interrupted or altered); rebuilding it`);
      } else if (bytes) {
        const npy = decodeNpy(bytes);
        if (!npy.data.every(Number.isFinite)) throw new SyntaxError("it holds non-finite values");
        if (npy.shape.join() === `${labels.length},${d}`) {
          cache!.log?.(`zero-shot head: cache hit ${file}`);
          return { rows: upload(clip, npy.data, labels.length), truncated, cached: true };
        }
      }
    } catch (err) {
      cache!.log?.(`zero-shot head: ignoring unreadable cache file ${file} (${firstLine(err)})`);
    }
  }
  const t = templates.length;
  const head = new Float32Array(labels.length * d);
  const perChunk = Math.max(1, Math.floor(1024 / t));
  const started = performance.now();
  for (let c0 = 0; c0 < labels.length; c0 += perChunk) {
    const chunk = labels.slice(c0, c0 + perChunk);
    const prompts = chunk.flatMap((l) => templates.map((tpl) => tpl.replaceAll("{}", l)));
    const enc = await clip.encodeTexts(prompts);
    const emb = await rowsToHost(enc.rows);
    releaseRows(enc.rows);
    chunk.forEach((_, j) => {
      const acc = new Float64Array(d);
      for (let k = 0; k < t; k++) {
        const row = emb.subarray((j * t + k) * d, (j * t + k + 1) * d);
        let n = 0;
        for (const x of row) n += x * x;
        n = Math.sqrt(n) || 1;
        for (let q = 0; q < d; q++) acc[q] = acc[q]! + row[q]! / n;
      }
      let n = 0;
      for (const x of acc) n += x * x;
      n = Math.sqrt(n) || 1;
      for (let q = 0; q < d; q++) head[(c0 + j) * d + q] = acc[q]! / n;
    });
    progress?.(Math.min(labels.length, c0 + perChunk), labels.length);
  }
  const secs = (performance.now() - started) / 1000;
  cache?.log?.(
    `zero-shot head: ${labels.length} labels x ${t} templates encoded in ${secs.toFixed(1)} s (${
      (1000 * secs / (labels.length * t)).toFixed(2)
    } ms per prompt)`,
  );
  if (file) {
    try {
      await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
      await writeVerified(file, encodeNpy(head, "<f4", [labels.length, d]) as Uint8Array<ArrayBuffer>);
      cache!.log?.(`zero-shot head: cached ${file}`);
    } catch (err) {
      cache!.log?.(`warning: could not cache the zero-shot head in ${cache!.dir} (${firstLine(err)})`);
    }
  }
  return { rows: upload(clip, head, labels.length), truncated, cached: false };
}

function upload(clip: ClipModel, head: Float32Array, n: number): Rows {
  const d = clip.dim;
  const gpu = clip.textual.gpuContext;
  if (gpu) {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
    return {
      where: "gpu",
      buffer: createBufferWith(gpu.device, `zero-shot head ${n}x${d}`, head, usage),
      rows: n,
      width: d,
      device: gpu.device,
    };
  }
  return { where: "cpu", data: head, rows: n, width: d };
}

/** Accuracy of zero-shot results on the images whose true class is known and among the labels. */
export interface LabelledAccuracy {
  /** Images scored: named by a WordNet id whose class is among the labels. */
  n: number;
  /** Fraction whose top-1 label is the true class. */
  top1: number;
  /** Its 95 % Wilson interval. */
  top1_ci: [number, number];
  /** Fraction with the true class among the returned labels (up to 5). */
  top5: number;
}

/**
 * Scores zero-shot results against the WordNet ids in the file names (`n02128385_leopard.jpg`, or a folder of
 * that name). A label stands for a file's class when its index is the class's ImageNet index (labels from
 * `--imagenet` or an index dict), or when its text is the class's CLIP or Keras name (`--labels leopard,tiger`).
 *
 * @example
 * ```ts
 * import { labelledAccuracy } from "./zeroshot.ts";
 * const acc = labelledAccuracy(
 *   [{ path: "x/n02128385_leopard.jpg", top_k: [{ label: "leopard", index: 0 }] }],
 *   [{ label: "leopard", index: 0 }, { label: "tiger", index: 1 }],
 *   false,
 * );
 * if (acc?.n !== 1 || acc.top1 !== 1) throw new Error();
 * ```
 * @param results Per image, the returned labels, best first.
 * @param labels The label set.
 * @param imagenetIndexed Whether `index` is the ImageNet index.
 * @returns The accuracy, or null when no image has a known class among the labels.
 */
export function labelledAccuracy(
  results: readonly { path: string; top_k: readonly { label: string; index: number }[] }[],
  labels: readonly Label[],
  imagenetIndexed: boolean,
): LabelledAccuracy | null {
  const norm = (s: string) => s.toLowerCase().replace(/_/g, " ").trim();
  const matches = (l: { label: string; index: number }, c: ImagenetClass) =>
    imagenetIndexed ? l.index === c.index : norm(l.label) === norm(c.clip) || norm(l.label) === norm(c.keras);
  let n = 0, hit1 = 0, hit5 = 0;
  for (const r of results) {
    const c = classOfImagePath(r.path);
    if (!c || !labels.some((l) => matches(l, c))) continue;
    n++;
    if (r.top_k[0] && matches(r.top_k[0], c)) hit1++;
    if (r.top_k.slice(0, 5).some((l) => matches(l, c))) hit5++;
  }
  return n ? { n, top1: hit1 / n, top1_ci: wilson(hit1, n), top5: hit5 / n } : null;
}
