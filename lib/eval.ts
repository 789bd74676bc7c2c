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

/**
 * Lists an ImageFolder (`DIR/<wnid>/*.jpg|png`), sorted, then applies `--shard i/n` and `--limit`.
 *
 * @param dir The dataset root.
 * @param opts Shard and limit.
 * @returns The items and the wnid folders found.
 */
export async function listImageFolder(
  dir: string,
  opts: { shard?: [number, number]; limit?: number; onSkip?: (path: string, reason: string) => void } = {},
): Promise<{ items: EvalItem[]; classes: number[] }> {
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
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
  const items: EvalItem[] = [];
  const classes: number[] = [];
  for (const name of entries) {
    const cls = classByWnid(name);
    if (!cls) continue;
    classes.push(cls.index);
    const files = await listImages([`${dir.replace(/\/$/, "")}/${name}`], opts.onSkip);
    for (const path of files) items.push({ path, index: cls.index });
  }
  if (classes.length === 0) throw new ClipcmpError(`--dataset "${dir}": no class folders named by ImageNet WordNet id`);
  let out = items;
  if (opts.shard) out = out.filter((_, i) => i % opts.shard![1] === opts.shard![0]);
  if (opts.limit !== undefined) out = out.slice(0, opts.limit);
  return { items: out, classes };
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
}

/** The first difference between two run headers, as `field: was A, now B`; null when they agree. */
export function headerDifference(a: RunHeader, b: RunHeader, ignore: readonly (keyof RunHeader)[] = []): string | null {
  for (const k of Object.keys(a) as (keyof RunHeader)[]) {
    if (ignore.includes(k)) continue;
    const x = JSON.stringify(a[k]);
    const y = JSON.stringify(b[k]);
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
