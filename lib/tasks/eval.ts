/**
 * The dataset evaluation task's core, for the CLI (`deno task eval`) and scripts alike: scores whole ImageFolders
 * with CLIP and/or a ResNet, appending per-image results to `results.jsonl` as they are made (so a kill or Ctrl-C
 * loses at most a batch and a rerun continues), then writes `metrics.json`, `metrics.csv` and the HTML report (the
 * same analyses as compare's, at dataset scale); and merges shards.
 *
 * @module
 */
import type { Engine } from "../ort/session.ts";
import { type DeviceChoice, resolveDevice } from "../device.ts";
import { ClipcmpError } from "../errors.ts";
import { ClipModel } from "../models/clip.ts";
import { ResnetModel } from "../models/resnet.ts";
import { type LoadedMore, loadMoreModels } from "../models/more.ts";
import { checkAgainstManifest, type ChosenModels, switchToFp16 } from "../models/resolve.ts";
import { DecodePool } from "../image/pool.ts";
import { classifyFiles } from "../pipeline.ts";
import { imagenetClasses } from "../data/imagenet.ts";
import { buildHead } from "../zeroshot.ts";
import { releaseRows } from "../scoring.ts";
import {
  evalCsv,
  type EvalItem,
  type EvalLine,
  type EvalMetrics,
  evalMetrics,
  FIRST_NAMED_ID,
  headerDifference,
  readResults,
  readRunHeader,
  type RunHeader,
  scoringColumns,
  type SubsetChoice,
} from "../eval.ts";
import { writeFileAtomic, writeFilesAtomic } from "../fs.ts";
import { evalReport } from "../report/eval_report.ts";
import { writeFailure } from "../output.ts";
import { docHeader } from "../envelope.ts";
import { VERSION } from "../version.ts";
import { headProgress, progressLine } from "../progress_line.ts";

/** What metrics.json records about the run that made the results. */
export interface EvalProvenance {
  time: string;
  /** The run's settings: models by sha256, dtype, templates, subset, recipes, datasets (shard null once merged). */
  run: RunHeader;
  /** Where this invocation ran, or null for a merge (it ran no model). */
  device: { ep: string; reason: string; adapter: string | null } | null;
}

/** metrics.json (docs/schemas/eval.schema.json). */
export interface EvalDocument {
  tool: "clipcmp";
  version: string;
  task: "eval";
  provenance: EvalProvenance;
  results: {
    dataset: string;
    model: string;
    task: string;
    n: number;
    metrics: { acc1: number; acc5: number; mean_per_class_recall: number };
  }[];
}

/** What a finished evaluation returns: the document and the metrics rows (for a table). */
export interface EvalOutcome {
  doc: EvalDocument;
  metrics: EvalMetrics[];
}

/** A dataset, listed. */
export interface EvalDataset {
  name: string;
  items: EvalItem[];
  classes: number[];
  /** For a class-name ImageFolder: each class id's prompt name (ids from 1000 up are outside ImageNet). */
  prompts?: Map<number, string>;
}

/** The text CLIP is prompted with for a class: the folder's name in a class-name dataset, else CLIP's name. */
function promptOf(ds: EvalDataset, id: number): string {
  return ds.prompts?.get(id) ?? imagenetClasses()[id]!.clip;
}

/** What to evaluate, with what. */
export interface EvalOptions {
  models: ChosenModels;
  datasets: EvalDataset[];
  /** Dataset names and directories, as given (recorded in run.json). */
  dirs: readonly (readonly [string, string])[];
  /** The results directory: created, resumed when it holds this run's results, refused when another run's. */
  out: string;
  templates: readonly string[];
  subset: SubsetChoice;
  batch: number;
  shard?: [number, number];
  device: DeviceChoice;
  /** The engine that runs the models (default `ort`). */
  engine?: Engine;
  dtype: "fp32" | "fp16";
  /** The `*_diff` columns of metrics.csv are taken against this dataset. */
  reference?: string;
  cacheDir: string;
  log: (line: string) => void;
  /** Stops after the current batch (Ctrl-C); the outcome is then `interrupted`. */
  signal?: AbortSignal;
}

/** Writes metrics.json, metrics.csv, report.md and report.html for `lines`, as one set. */
async function writeMetrics(
  out: string,
  lines: EvalLine[],
  provenance: EvalProvenance,
  reference: string | undefined,
  names?: Record<string, string>,
): Promise<EvalOutcome> {
  const metrics = evalMetrics(lines);
  const doc: EvalDocument = {
    ...docHeader("eval"),
    provenance,
    results: metrics.map((m) => ({
      dataset: m.dataset,
      model: m.model,
      task: m.model.startsWith("clip") ? "zeroshot_classification" : "classification",
      n: m.n,
      metrics: { acc1: m.acc1, acc5: m.acc5, mean_per_class_recall: m.mean_per_class_recall },
    })),
  };
  const run = provenance.run;
  const meta = [
    `clipcmp ${VERSION}, ${provenance.time}${provenance.device ? `; ${provenance.device.reason}` : " (merged shards)"}`,
    ...(run.models.clip
      ? [`CLIP: visual sha256 ${run.models.clip.visual}, textual sha256 ${run.models.clip.textual}`]
      : []),
    ...(run.models.resnet ? [`ResNet: sha256 ${run.models.resnet}`] : []),
    `dtype ${run.dtype}; subset ${run.subset}; ${run.templates.length} prompt template(s)`,
    ...Object.entries(run.datasets).map(([name, dir]) => `dataset ${name}: ${dir}`),
  ];
  const classNames = new Map(
    Object.values(run.classes ?? {}).flatMap((c) => Object.entries(c)).map(([id, name]) => [Number(id), name]),
  );
  const report = evalReport(lines, { reference, names, meta, classNames });
  // One set: a kill leaves the previous four files or the new four, never metrics of one run beside another's report.
  await writeFilesAtomic([
    [`${out}/metrics.json`, JSON.stringify(doc, null, 2) + "\n"],
    // The report's default reference (the first dataset not named like a known shift) serves metrics.csv too.
    [`${out}/metrics.csv`, evalCsv(metrics, report.reference)],
    [`${out}/report.md`, report.markdown],
    [`${out}/report.html`, report.html],
  ]);
  return { doc, metrics };
}

/** Thrown after the batch that was running when the signal came has been written. */
class Interrupted extends Error {}

/** Cuts a torn last line (a kill mid-write) so the next append starts on a fresh line. */
async function repairTail(file: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (text === "" || text.endsWith("\n")) return;
  await writeFileAtomic(file, text.slice(0, text.lastIndexOf("\n") + 1));
}

/**
 * Merges shard directories of one run into `out`: refused when their settings differ (all but the shard).
 *
 * @param dirs The shard directories.
 * @param out The merged results directory.
 * @param opts The reference dataset for metrics.csv; one-line messages.
 * @returns The merged metrics.
 */
export async function mergeEval(
  dirs: readonly string[],
  out: string,
  opts: { reference?: string; log: (line: string) => void },
): Promise<EvalOutcome> {
  const headers = await Promise.all(dirs.map(async (d) => ({ d, h: await readRunHeader(d) })));
  for (const { d, h } of headers) {
    if (!h) throw new ClipcmpError(`"${d}" has no run.json: it is not an eval run directory, or an older one`);
    const diff = headerDifference(headers[0]!.h!, h, ["shard"]);
    if (diff) throw new ClipcmpError(`Cannot merge "${d}" with "${headers[0]!.d}": ${diff}`);
  }
  const lines = await readResults(dirs.map((d) => `${d}/results.jsonl`));
  if (lines.length === 0) throw new ClipcmpError(`No results in ${dirs.join(", ")}`);
  const run = { ...headers[0]!.h!, shard: null };
  await Deno.mkdir(out, { recursive: true });
  await writeFileAtomic(`${out}/results.jsonl`, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  await writeFileAtomic(`${out}/run.json`, JSON.stringify(run, null, 2) + "\n");
  opts.log(`merged ${lines.length} results from ${dirs.length} director${dirs.length === 1 ? "y" : "ies"}`);
  return await writeMetrics(out, lines, { time: new Date().toISOString(), run, device: null }, opts.reference);
}

/**
 * Evaluates the datasets, resuming `out` when it holds this run's results.
 *
 * @example
 * ```ts ignore
 * const r = await runEval({ models, datasets, dirs, out, templates, subset: "auto", batch: 32, device: "auto",
 *   dtype: "fp32", cacheDir, log: console.error });
 * if ("interrupted" in r) console.error(`${r.kept} results kept in ${r.jsonl}`);
 * ```
 * @param opts What to evaluate, with what.
 * @returns The metrics, or, when interrupted, how many results are kept and where.
 */
export async function runEval(
  opts: EvalOptions,
): Promise<EvalOutcome | { interrupted: true; kept: number; jsonl: string }> {
  const { out, log, templates, subset, datasets: lists } = opts;
  const chosen = opts.models;
  const jsonl = `${out}/results.jsonl`;
  try {
    await Deno.mkdir(out, { recursive: true });
    await repairTail(jsonl);
  } catch (err) {
    throw new ClipcmpError(writeFailure(out, err));
  }
  const device = await resolveDevice(opts.device, opts.engine);
  log(device.reason);
  let clip: ClipModel | undefined;
  let resnet: ResnetModel | undefined;
  const more = { clip: [] as LoadedMore<ClipModel>[], resnet: [] as LoadedMore<ResnetModel>[] };
  const { clip: moreClip, resnet: moreResnet } = more;
  const pool = new DecodePool();
  try {
    if (opts.dtype === "fp16") {
      const first = lists.flatMap((l) => l.items.slice(0, 4).map((it) => it.path));
      const labels = [...new Set(lists.flatMap((l) => l.items.map((it) => promptOf(l, it.index))))];
      await switchToFp16(chosen, first, labels, { cacheDir: opts.cacheDir, device, log });
    }
    clip = chosen.clip ? await ClipModel.load(chosen.clip.dir, { ...device, log }) : undefined;
    resnet = chosen.resnet ? await ResnetModel.load(chosen.resnet.source, { ...device, log }) : undefined;
    checkAgainstManifest(chosen, clip, resnet);
    await loadMoreModels(chosen, { ...device, log }, more);
    // A resume continues only the same run: same models (by hash), templates, subset, recipes, datasets and shard.
    const header: RunHeader = {
      tool: "clipcmp",
      version: VERSION,
      models: {
        clip: clip ? { visual: clip.visual.session.sha256, textual: clip.textual.sha256 } : null,
        resnet: resnet ? resnet.graph.session.sha256 : null,
        // Only when there are further models, so that earlier runs' run.json still match.
        ...(moreClip.length || moreResnet.length
          ? {
            more: [
              ...moreClip.map((c) => ({
                key: c.key,
                visual: c.model.visual.session.sha256,
                textual: c.model.textual.sha256,
              })),
              ...moreResnet.map((r) => ({ key: r.key, sha256: r.model.graph.session.sha256 })),
            ],
          }
          : {}),
      },
      dtype: opts.dtype,
      ...(opts.engine === "wgsl" ? { engine: "wgsl" as const } : {}),
      templates: clip ? [...templates] : [],
      subset,
      recipes: { ...(clip ? { clip: "clip" } : {}), ...(resnet ? { resnet: resnet.source.recipe.name } : {}) },
      datasets: Object.fromEntries(opts.dirs),
      // Class-name datasets: each class id's prompt name (only when there are any, so earlier runs still match).
      ...(lists.some((l) => l.prompts)
        ? {
          classes: Object.fromEntries(
            lists.filter((l) => l.prompts).map((l) => [l.name, Object.fromEntries(l.prompts!)]),
          ),
        }
        : {}),
      shard: opts.shard ? `${opts.shard[0]}/${opts.shard[1]}` : null,
    };
    const previous = await readRunHeader(out);
    const existing = await readResults([jsonl]);
    if (previous) {
      const diff = headerDifference(previous, header);
      if (diff) throw new ClipcmpError(`"${out}" holds results of a different run (${diff}); use a new --out`);
    } else if (existing.length) {
      throw new ClipcmpError(`"${out}" holds results without a run.json (an older clipcmp?); use a new --out`);
    } else await writeFileAtomic(`${out}/run.json`, JSON.stringify(header, null, 2) + "\n");
    const done = new Set(existing.map((l) => `${l.dataset}\u0000${l.path}`));
    const classes = imagenetClasses();
    log(`decoding on ${pool.size} worker thread${pool.size === 1 ? "" : "s"}`);
    try {
      for (const ds of lists) {
        // A class-name dataset is scored over its own classes; a wnid one 1000-way or over a 200-class subset.
        const columns = ds.prompts ? [...ds.classes].sort((a, b) => a - b) : scoringColumns(subset, ds.classes);
        const cols = columns ?? classes.map((c) => c.index);
        // ResNets score only the classes that are ImageNet classes (all of them, for a wnid dataset).
        const resnetCols = ds.prompts ? cols.filter((id) => id < FIRST_NAMED_ID) : columns;
        const runResnets = (resnet || moreResnet.length) && (resnetCols === null || resnetCols.length > 0);
        if (ds.prompts && (resnet || moreResnet.length)) {
          const off = cols.filter((id) => id >= FIRST_NAMED_ID).map((id) => ds.prompts!.get(id)!);
          log(
            `${ds.name}: class names; ResNet scores ${resnetCols!.length} of ${cols.length} classes${
              off.length ? ` (no ImageNet class for: ${off.join(", ")})` : ""
            }`,
          );
        }
        const inSet = new Set(cols);
        const outside = ds.items.filter((it) => !inSet.has(it.index));
        if (outside.length) {
          log(`${ds.name}: skipped ${outside.length} image(s) whose class is not among the ${cols.length} scored`);
        }
        const todo = ds.items.filter((it) => inSet.has(it.index) && !done.has(`${ds.name}\u0000${it.path}`));
        log(`${ds.name}: ${ds.items.length} images, ${cols.length}-way, ${ds.items.length - todo.length} already done`);
        const head = clip
          ? await buildHead(clip, cols.map((i) => promptOf(ds, i)), templates, headProgress(log), {
            dir: opts.cacheDir,
            log,
          })
          : null;
        const moreHeads = [];
        for (const c of moreClip) {
          const h = await buildHead(c.model, cols.map((i) => promptOf(ds, i)), templates, headProgress(log), {
            dir: opts.cacheDir,
            log,
          });
          moreHeads.push({ key: c.key, clip: { model: c.model, head: h.rows } });
        }
        const t0 = performance.now();
        let written = 0;
        const k = Math.min(5, cols.length);
        try {
          await classifyFiles(todo, {
            clip: clip && head ? { model: clip, head: head.rows } : undefined,
            resnet: runResnets ? resnet : undefined,
            columns,
            resnetColumns: resnetCols,
            more: [...moreHeads, ...(runResnets ? moreResnet.map((r) => ({ key: r.key, resnet: r.model })) : [])],
          }, {
            batch: opts.batch,
            k,
            pool,
            onSkip: (path, message) => log(`skipped ${path}: ${message}`),
            onBatch: async (results) => {
              const lines = results.map((r) => {
                // An image of a class outside ImageNet is not scored by the ResNets.
                const top5 = r.index >= FIRST_NAMED_ID
                  ? Object.fromEntries(Object.entries(r.top).filter(([m]) => !m.startsWith("resnet")))
                  : r.top;
                return JSON.stringify({ dataset: ds.name, path: r.path, true: r.index, top5 } satisfies EvalLine);
              });
              await Deno.writeTextFile(jsonl, lines.join("\n") + "\n", { append: true });
              written += results.length;
              log(progressLine(`${ds.name}:`, written, todo.length, "images", (performance.now() - t0) / 1000));
              if (opts.signal?.aborted) throw new Interrupted();
            },
          });
        } finally {
          if (head) releaseRows(head.rows);
          for (const h of moreHeads) releaseRows(h.clip.head);
        }
      }
    } catch (err) {
      if (!(err instanceof Interrupted)) throw err;
      return { interrupted: true, kept: (await readResults([jsonl])).length, jsonl };
    }
    // Only images in the current listing count (a file removed since an earlier part of the run does not).
    const listed = new Set(lists.flatMap((l) => l.items.map((it) => `${l.name}\u0000${it.path}`)));
    const lines = (await readResults([jsonl])).filter((l) => listed.has(`${l.dataset}\u0000${l.path}`));
    return await writeMetrics(
      out,
      lines,
      {
        time: new Date().toISOString(),
        run: header,
        device: { ep: device.ep, reason: device.reason, adapter: device.adapter },
      },
      opts.reference,
      {
        ...(chosen.clip ? { clip: `${chosen.clip.name} zero-shot` } : {}),
        ...(chosen.resnet ? { resnet: chosen.resnet.name } : {}),
        ...Object.fromEntries(moreClip.map((c) => [c.key, `${c.name} zero-shot`])),
        ...Object.fromEntries(moreResnet.map((r) => [r.key, r.name])),
      },
    );
  } finally {
    pool.close();
    await clip?.release();
    await resnet?.release();
    for (const m of [...moreClip, ...moreResnet]) await m.model.release();
    device.gpu?.destroy();
  }
}
