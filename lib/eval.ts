/**
 * Dataset-scale evaluation: ImageFolder datasets named by wnid, scored 1000-way or 200-way (ImageNet-R and
 * ImageNet-A index lists), with per-image results appended to a JSONL file so that a killed run resumes where it
 * stopped, shards that merge, and metrics computed from the JSONL alone.
 *
 * @module
 */
import { csvRow } from "./report/escape.ts";
import rIndices from "../data/imagenet/imagenet_r_indices.txt" with { type: "text" };
import aIndices from "../data/imagenet/imagenet_a_indices.txt" with { type: "text" };
import { classByWnid } from "./data/imagenet.ts";
import { ClipcmpError, firstLine } from "./errors.ts";
import { listImages } from "./image/list.ts";
import { timmCells } from "./report/timm.ts";
import type { EvalLine } from "./documents.ts";

/** The 200-class subsets with their ImageNet indices. */
export const SUBSETS: Record<"imagenet-r" | "imagenet-a", number[]> = {
  "imagenet-r": rIndices.split(/\s+/).filter(Boolean).map(Number),
  "imagenet-a": aIndices.split(/\s+/).filter(Boolean).map(Number),
};

/** How a dataset is scored. */
export type SubsetChoice = "imagenet-r" | "imagenet-a" | "auto" | "none";

/** One image to evaluate. */
export interface EvalItem {
  /** Path. */
  path: string;
  /** True ImageNet index. */
  index: number;
}

/** Class ids from 1000 up name classes outside ImageNet (class-name folders that map to no ImageNet class). */
export const FIRST_NAMED_ID = 1000;

/**
 * The classes of class-name folders across a run's datasets: ImageNet ids for folders that map (by wnid or the
 * `--class-map`), and ids from {@linkcode FIRST_NAMED_ID} up, in first-seen order, for the rest. The same datasets
 * give the same ids, so resumes and shards agree.
 */
export class NamedClasses {
  readonly #ids = new Map<string, number>();
  /** Prompt names of the classes outside ImageNet, by id. */
  readonly names = new Map<number, string>();
  /**
   * @param map Folder name to ImageNet index (from `--class-map`).
   */
  constructor(readonly map: ReadonlyMap<string, number> = new Map()) {}
  /** The id of a class folder. */
  idOf(folder: string): number {
    const known = classByWnid(folder)?.index ?? this.map.get(folder);
    if (known !== undefined) return known;
    let id = this.#ids.get(folder);
    if (id === undefined) {
      id = FIRST_NAMED_ID + this.#ids.size;
      this.#ids.set(folder, id);
      this.names.set(id, promptName(folder));
    }
    return id;
  }
}

/** A class folder's name as CLIP_benchmark prompts it: underscores become spaces. */
export function promptName(folder: string): string {
  return folder.replace(/_/g, " ").trim();
}

/**
 * Reads a `--class-map` file: one `folder name<TAB or comma>wnid or ImageNet index` per line (`#` comments), or a
 * JSON object `{ "folder name": "n01440764" | 0 }`.
 *
 * @param file The file.
 * @returns Folder name to ImageNet index.
 */
export async function readClassMap(file: string): Promise<Map<string, number>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw new ClipcmpError(
      `--class-map "${file}": ${err instanceof Deno.errors.NotFound ? "no such file" : firstLine(err)}`,
    );
  }
  const entries: [string, unknown, string][] = [];
  if (text.trimStart().startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new ClipcmpError(`--class-map "${file}": not valid JSON (${firstLine(err)})`);
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
      throw new ClipcmpError(`--class-map "${file}": expected an object of folder name to wnid or index`);
    }
    for (const [k, v] of Object.entries(obj)) entries.push([k, v, `"${k}"`]);
  } else {
    text.split("\n").forEach((line, i) => {
      const l = line.trim();
      if (!l || l.startsWith("#")) return;
      const m = l.match(/^(.*?)\s*[\t,]\s*([^\t,]+)$/);
      if (!m) throw new ClipcmpError(`--class-map "${file}" line ${i + 1}: expected "folder name, wnid or index"`);
      entries.push([m[1]!.trim(), m[2]!.trim(), `line ${i + 1}`]);
    });
  }
  const out = new Map<string, number>();
  for (const [name, target, where] of entries) {
    const t = String(target);
    const index = /^\d+$/.test(t) ? Number(t) : classByWnid(t)?.index;
    if (index === undefined || !(index >= 0 && index < 1000)) {
      throw new ClipcmpError(`--class-map "${file}" ${where}: "${t}" is neither an ImageNet wnid nor an index 0-999`);
    }
    out.set(name, index);
  }
  return out;
}

/**
 * Lists an ImageFolder, sorted, then applies `--shard i/n` and `--limit`. Folders named by wnid are ImageNet
 * classes; a folder set with no wnid folder (or any folder set, given a `--class-map`) is a class-name
 * ImageFolder, as CLIP_benchmark reads them: each folder is a class, prompted by its name.
 *
 * @param dir The dataset root.
 * @param opts Shard, limit, and the run's class-name registry.
 * @returns The items, the class ids found, and for class-name folders each class's prompt name.
 */
export async function listImageFolder(
  dir: string,
  opts: {
    shard?: [number, number];
    limit?: number;
    onSkip?: (path: string, reason: string) => void;
    named?: NamedClasses;
  } = {},
): Promise<{ items: EvalItem[]; classes: number[]; prompts?: Map<number, string> }> {
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.name.startsWith(".")) continue;
      // Class folders are often symlinks into a shared store: follow them.
      const isDir = e.isDirectory ||
        (e.isSymlink && (await Deno.stat(`${dir}/${e.name}`).catch(() => null))?.isDirectory);
      if (isDir) entries.push(e.name);
    }
  } catch (err) {
    throw new ClipcmpError(
      `--dataset "${dir}": ${err instanceof Deno.errors.NotFound ? "no such directory" : firstLine(err)}`,
    );
  }
  entries.sort();
  const named = opts.named && (opts.named.map.size > 0 || !entries.some((n) => classByWnid(n)))
    ? opts.named
    : undefined;
  const items: EvalItem[] = [];
  const classes: number[] = [];
  const prompts = new Map<number, string>();
  for (const name of entries) {
    const id = named ? named.idOf(name) : classByWnid(name)?.index;
    if (id === undefined) continue;
    classes.push(id);
    // A wnid folder is prompted with CLIP's curated name; any other folder with its own name.
    if (named) prompts.set(id, classByWnid(name)?.clip ?? promptName(name));
    const files = await listImages([`${dir.replace(/\/$/, "")}/${name}`], opts.onSkip);
    for (const path of files) items.push({ path, index: id });
  }
  if (classes.length === 0) {
    throw new ClipcmpError(`--dataset "${dir}": no class folders (name them by ImageNet WordNet id, or by class name)`);
  }
  if (new Set(classes).size !== classes.length) {
    throw new ClipcmpError(`--dataset "${dir}": two class folders map to the same ImageNet class`);
  }
  let out = items;
  if (opts.shard) out = out.filter((_, i) => i % opts.shard![1] === opts.shard![0]);
  if (opts.limit !== undefined) out = out.slice(0, opts.limit);
  return named ? { items: out, classes, prompts } : { items: out, classes };
}

/**
 * The columns a dataset is scored over: a 200-class subset's indices, or null for all 1000.
 *
 * @example
 * ```ts
 * import { scoringColumns } from "./eval.ts";
 * if (scoringColumns("none", [1, 2]) !== null || scoringColumns("imagenet-r", [1])!.length !== 200) throw new Error();
 * ```
 * @param choice `--subset`.
 * @param classes Class indices present in the dataset.
 * @returns The columns, or null.
 */
export function scoringColumns(choice: SubsetChoice, classes: readonly number[]): number[] | null {
  if (choice === "none") return null;
  if (choice !== "auto") return SUBSETS[choice];
  for (const key of ["imagenet-r", "imagenet-a"] as const) {
    const set = new Set(SUBSETS[key]);
    if (classes.length === 200 && classes.every((c) => set.has(c))) return SUBSETS[key];
  }
  return null;
}

/** One line of results.jsonl (defined with the other documents). */
export type { EvalLine } from "./documents.ts";

/**
 * What makes an eval run's results comparable: written to `run.json` beside `results.jsonl` before the first
 * result, and compared on every resume and merge. Everything but `shard` must match for a merge.
 */
export interface RunHeader {
  /** Always `clipcmp`. */
  tool: "clipcmp";
  /** The tool version that wrote the results. */
  version: string;
  /** Which towers ran, with their model files' sha256 (null when not run). */
  models: {
    clip: { visual: string; textual: string } | null;
    resnet: string | null;
    /** Further models (keys `clip_2`, `resnet_2`, ...), present only when there are any. */
    more?: ({ key: string; visual: string; textual: string } | { key: string; sha256: string })[];
  };
  /** Precision. */
  dtype: string;
  /** The CLIP prompt templates (empty without CLIP). */
  templates: string[];
  /** `--subset`. */
  subset: string;
  /** Preprocessing recipes by tower. */
  recipes: Record<string, string>;
  /** Dataset names and their directories. */
  datasets: Record<string, string>;
  /** `i/n`, or null. */
  shard: string | null;
  /** Class-name datasets: per dataset, class id to prompt name (present only when there are any). */
  classes?: Record<string, Record<string, string>>;
  /** `wgsl` when clipcmp's WGSL engine ran the models; absent for onnxruntime-web (so earlier runs still match). */
  engine?: "wgsl";
}

/** The first difference between two run headers, as `field: was A, now B`; null when they agree. */
export function headerDifference(a: RunHeader, b: RunHeader, ignore: readonly (keyof RunHeader)[] = []): string | null {
  // Both headers' keys: a setting only one run has (an added model, the engine) is a difference too.
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])] as (keyof RunHeader)[]) {
    if (ignore.includes(k)) continue;
    // A setting one header lacks reads "(none)".
    const x = JSON.stringify(a[k]) ?? "(none)";
    const y = JSON.stringify(b[k]) ?? "(none)";
    if (x !== y) {
      const short = (s: string) => (s.length > 120 ? `${s.slice(0, 117)}...` : s);
      return `${k}: was ${short(x)}, now ${short(y)}`;
    }
  }
  return null;
}

/**
 * Reads an eval directory's `run.json`.
 *
 * @param dir The run directory.
 * @returns The header, or null when the directory has none.
 */
export async function readRunHeader(dir: string): Promise<RunHeader | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/run.json`);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new ClipcmpError(`Cannot read "${dir}/run.json": ${firstLine(err)}`);
  }
  try {
    const h = JSON.parse(text);
    if (h?.tool !== "clipcmp" || typeof h.models !== "object") throw new Error("not a clipcmp run header");
    return h as RunHeader;
  } catch (err) {
    throw new ClipcmpError(`"${dir}/run.json" is corrupt (${firstLine(err)}); use a new --out`);
  }
}

/**
 * Reads results.jsonl files, dropping a torn line (a kill mid-write) and repeated identical lines. Two lines for
 * the same image that disagree are an error: they can only come from mixed runs.
 *
 * @param files JSONL paths (missing files are empty).
 * @returns The unique lines.
 */
export async function readResults(files: readonly string[]): Promise<EvalLine[]> {
  const seen = new Map<string, string>();
  const out: EvalLine[] = [];
  for (const f of files) {
    let text = "";
    try {
      text = await Deno.readTextFile(f);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw new ClipcmpError(`Cannot read "${f}": ${firstLine(err)}`);
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      let rec: EvalLine;
      try {
        rec = JSON.parse(line);
      } catch {
        continue; // a line torn by a kill is redone on resume
      }
      if (!rec || typeof rec !== "object" || typeof rec.path !== "string" || typeof rec.top5 !== "object") {
        continue; // not a result line (e.g. `null`): treated like a torn line, redone on resume
      }
      const key = `${rec.dataset}\u0000${rec.path}`;
      const canon = JSON.stringify([rec.true, rec.top5]);
      const prev = seen.get(key);
      if (prev !== undefined) {
        if (prev !== canon) {
          throw new ClipcmpError(
            `"${f}": two different results for ${rec.path} in ${rec.dataset}; the directory mixes runs, use a new --out`,
          );
        }
        continue;
      }
      seen.set(key, canon);
      out.push(rec);
    }
  }
  return out;
}

/** Metrics of one model on one dataset. */
export interface EvalMetrics {
  /** Dataset. */
  dataset: string;
  /** Model key. */
  model: string;
  /** Images. */
  n: number;
  /** Top-1, a fraction. */
  acc1: number;
  /** Top-5, a fraction. */
  acc5: number;
  /** Mean per-class top-1 recall. */
  mean_per_class_recall: number;
}

/**
 * Metrics from result lines, sorted by dataset then model.
 *
 * @param lines The results.
 * @returns One entry per dataset and model.
 */
export function evalMetrics(lines: readonly EvalLine[]): EvalMetrics[] {
  const groups = new Map<string, EvalLine[]>();
  for (const l of lines) {
    for (const m of Object.keys(l.top5)) {
      const k = `${l.dataset}\u0000${m}`;
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(l);
    }
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, ls]) => {
    const [dataset, model] = k.split("\u0000") as [string, string];
    const perClass = new Map<number, [number, number]>();
    let h1 = 0, h5 = 0;
    for (const l of ls) {
      const t = l.top5[model]!;
      const hit = t[0] === l.true;
      if (hit) h1++;
      if (t.slice(0, 5).includes(l.true)) h5++;
      const c = perClass.get(l.true) ?? [0, 0];
      perClass.set(l.true, [c[0] + (hit ? 1 : 0), c[1] + 1]);
    }
    const recalls = [...perClass.values()].map(([a, b]) => a / b);
    return {
      dataset,
      model,
      n: ls.length,
      acc1: h1 / ls.length,
      acc5: h5 / ls.length,
      mean_per_class_recall: recalls.reduce((a, b) => a + b, 0) / recalls.length,
    };
  });
}

/**
 * timm-like CSV of metrics, in %, with top-1/top-5 differences against a reference dataset.
 *
 * @param metrics The metrics.
 * @param reference Reference dataset name, if any.
 * @returns CSV text.
 */
export function evalCsv(metrics: readonly EvalMetrics[], reference?: string): string {
  const rows = [
    "model,dataset,n,top1,top1_err,top5,top5_err,top1_diff,top5_diff,mean_per_class_recall,img_size,interpolation",
  ];
  for (const m of metrics) {
    const ref = reference ? metrics.find((x) => x.dataset === reference && x.model === m.model) : undefined;
    const acc = (x: EvalMetrics) => ({ top1: x.acc1, top5: x.acc5, mean_per_class_recall: x.mean_per_class_recall });
    rows.push(csvRow([
      m.model,
      m.dataset,
      m.n,
      ...timmCells(acc(m), ref && acc(ref), 2),
      224,
      m.model.startsWith("clip") ? "bicubic" : "bilinear",
    ]));
  }
  return rows.join("\n") + "\n";
}
