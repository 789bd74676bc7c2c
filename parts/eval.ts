/**
 * `deno task eval`: accuracy at dataset scale, resumable and sharded.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { EXIT_INTERRUPTED, info, oneOf, parseFlags, positiveInt, runTask } from "../lib/cli/run.ts";
import { headProgress, progressLine } from "../lib/progress_line.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { resolveDevice } from "../lib/device.ts";
import {
  cacheDirFlag,
  checkAgainstManifest,
  chooseModelsFor,
  MODEL_FLAGS,
  MODEL_HELP,
  switchToFp16,
} from "../lib/cli/models.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { ResnetModel } from "../lib/models/resnet.ts";
import { DecodePool } from "../lib/image/pool.ts";
import { classifyFiles } from "../lib/pipeline.ts";
import { imagenetClasses } from "../lib/data/imagenet.ts";
import { buildHead } from "../lib/zeroshot.ts";
import { releaseRows } from "../lib/scoring.ts";
import {
  evalCsv,
  type EvalLine,
  evalMetrics,
  headerDifference,
  listImageFolder,
  readResults,
  readRunHeader,
  type RunHeader,
  scoringColumns,
} from "../lib/eval.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { writeFailure } from "../lib/cli/output.ts";
import { VERSION } from "../lib/version.ts";

const HELP = `clipcmp eval: accuracy on whole datasets, resumable and sharded

Usage: deno task eval --dataset NAME=DIR [--dataset ...] [options]
       deno task eval --merge DIR [DIR ...] --out DIR

Datasets are ImageFolders named by wnid (ImageNet val in class folders, ImageNet-Sketch, ImageNet-R, -A, or any
subset). Per-image results are appended to DIR/results.jsonl as they are made: rerun with the same --out to
continue after an interruption (even a kill); the final metrics equal an uninterrupted run's. DIR/run.json records
the run's settings (model sha256s, dtype, templates, subset, recipes, datasets, shard): a resume or --merge with
other settings is refused, naming the difference. Only images in the current listing are counted.

Options:
  --model clip|resnet|both    (default both)
  --subset imagenet-r|imagenet-a|auto|none   200-way scoring for ImageNet-R/-A; auto detects a 200-class folder
                              set (default auto)
  --reference NAME            dataset that top1_diff/top5_diff in metrics.csv are taken against
  --out DIR                   results directory (default reports/eval-<time>, in the folder you run from)
  --limit N                   first N images of each dataset (after sharding)
  --shard i/n                 this machine's share: images i, i+n, i+2n, ... (merge the shards with --merge)
  --batch N                   images per step (default 32)
  --template TEXT | --templates clip80|simple7|FILE
  --device auto|webgpu|wasm
  --dtype fp32|fp16           precision; fp16 models are used only after a self-test against fp32 on the first
                              images (recorded in run.json: a resume with the other dtype is refused)
  --json                      print metrics.json's document on stdout instead of the table
${MODEL_HELP}
  -h, --help                  this help

Outputs in DIR: run.json, results.jsonl, metrics.json (CLIP_benchmark-like: acc1, acc5, mean_per_class_recall as
fractions), metrics.csv (timm-like, in %).`;

/** What metrics.json (and `--json`) records about the run that made the results. */
interface EvalProvenance {
  time: string;
  /** The run's settings: models by sha256, dtype, templates, subset, recipes, datasets (shard null once merged). */
  run: RunHeader;
  /** Where this invocation ran, or null for --merge (it ran no model). */
  device: { ep: string; reason: string; adapter: unknown } | null;
}

async function writeMetrics(
  out: string,
  lines: EvalLine[],
  provenance: EvalProvenance,
  opts: { reference?: string; json: boolean },
): Promise<void> {
  const reference = opts.reference;
  const metrics = evalMetrics(lines);
  const bench = metrics.map((m) => ({
    dataset: m.dataset,
    model: m.model,
    task: m.model === "clip" ? "zeroshot_classification" : "classification",
    n: m.n,
    metrics: { acc1: m.acc1, acc5: m.acc5, mean_per_class_recall: m.mean_per_class_recall },
  }));
  const doc = { tool: "clipcmp", version: VERSION, task: "eval", provenance, results: bench };
  await writeFileAtomic(`${out}/metrics.json`, JSON.stringify(doc, null, 2) + "\n");
  await writeFileAtomic(`${out}/metrics.csv`, evalCsv(metrics, reference));
  if (opts.json) {
    console.log(JSON.stringify(doc, null, 2));
    return;
  }
  for (const m of metrics) {
    console.log(
      `${m.dataset.padEnd(12)} ${m.model.padEnd(6)} n=${String(m.n).padEnd(6)} top-1 ${
        (100 * m.acc1).toFixed(2).padStart(6)
      }%  top-5 ${(100 * m.acc5).toFixed(2).padStart(6)}%  mean per-class recall ${
        (100 * m.mean_per_class_recall).toFixed(2)
      }%`,
    );
  }
  console.log(`metrics: ${out}/metrics.json, ${out}/metrics.csv`);
}

/** Thrown after the batch that was running when Ctrl-C came has been written. */
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

runTask("eval", async (args, signal) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      model: { type: "string", default: "both" },
      dataset: { type: "string", multiple: true },
      subset: { type: "string", default: "auto" },
      reference: { type: "string" },
      out: { type: "string" },
      limit: { type: "string" },
      shard: { type: "string" },
      batch: { type: "string", default: "32" },
      merge: { type: "boolean", default: false },
      template: { type: "string" },
      templates: { type: "string" },
      ...DEVICE_FLAG,
      ...DTYPE_FLAG,
      json: { type: "boolean", default: false },
      ...MODEL_FLAGS,
    },
    true,
    HELP,
  );
  const { device: deviceChoice, dtype } = deviceFlags(v);
  if (v.merge) {
    if (positionals.length === 0) throw new UsageError("--merge needs the shard directories to merge");
    if (v.out === undefined) throw new UsageError("--merge needs --out DIR for the merged results");
    const out = v.out as string;
    // Shards merge only when they come from the same run settings (everything but the shard itself).
    const headers = await Promise.all(positionals.map(async (d) => ({ d, h: await readRunHeader(d) })));
    for (const { d, h } of headers) {
      if (!h) throw new ClipcmpError(`"${d}" has no run.json: it is not an eval run directory, or an older one`);
      const diff = headerDifference(headers[0]!.h!, h, ["shard"]);
      if (diff) throw new ClipcmpError(`Cannot merge "${d}" with "${headers[0]!.d}": ${diff}`);
    }
    const lines = await readResults(positionals.map((d) => `${d}/results.jsonl`));
    if (lines.length === 0) throw new ClipcmpError(`No results in ${positionals.join(", ")}`);
    await Deno.mkdir(out, { recursive: true });
    await writeFileAtomic(`${out}/results.jsonl`, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    await writeFileAtomic(`${out}/run.json`, JSON.stringify({ ...headers[0]!.h!, shard: null }, null, 2) + "\n");
    info(`merged ${lines.length} results from ${positionals.length} director${positionals.length === 1 ? "y" : "ies"}`);
    const run = { ...headers[0]!.h!, shard: null };
    await writeMetrics(out, lines, { time: new Date().toISOString(), run, device: null }, {
      reference: v.reference as string | undefined,
      json: v.json as boolean,
    });
    return 0;
  }
  if (positionals.length) {
    throw new UsageError(`unexpected argument "${positionals[0]}" (datasets go in --dataset NAME=DIR)`);
  }
  const which = oneOf("--model", v.model as string, ["clip", "resnet", "both"] as const);
  const subset = oneOf("--subset", v.subset as string, ["imagenet-r", "imagenet-a", "auto", "none"] as const);
  const batch = positiveInt("--batch", v.batch as string)!;
  const limit = positiveInt("--limit", v.limit as string | undefined);
  let shard: [number, number] | undefined;
  if (v.shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(v.shard as string);
    if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
      throw new UsageError(`--shard must be i/n with 0 <= i < n, got "${v.shard}"`);
    }
    shard = [Number(m[1]), Number(m[2])];
  }
  const datasets = ((v.dataset as string[] | undefined) ?? []).map((d) => {
    const i = d.indexOf("=");
    if (i <= 0 || i === d.length - 1) throw new UsageError(`--dataset must be NAME=DIR, got "${d}"`);
    return [d.slice(0, i), d.slice(i + 1)] as const;
  });
  if (datasets.length === 0) throw new UsageError("give at least one --dataset NAME=DIR");
  if (v.reference !== undefined && !datasets.some(([n]) => n === v.reference)) {
    throw new UsageError(`--reference "${v.reference}" is not one of the --dataset names`);
  }
  const templates = await resolveTemplates(v.template as string | undefined, v.templates as string | undefined);
  const lists = [];
  const onSkip = (p: string, why: string) => info(`skipped ${p}: ${why}`);
  for (const [name, dir] of datasets) lists.push({ name, ...(await listImageFolder(dir, { shard, limit, onSkip })) });
  if (lists.every((l) => l.items.length === 0)) {
    throw new ClipcmpError(
      `Nothing to evaluate: ${datasets.map(([n, d]) => `${n} (${d})`).join(", ")} ${
        shard ? `give no images to shard ${shard[0]}/${shard[1]}` : "hold no .jpg or .png images"
      }`,
    );
  }
  const chosen = await chooseModelsFor(v, which);
  const out = (v.out as string | undefined) ?? `reports/eval-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  const jsonl = `${out}/results.jsonl`;
  try {
    await Deno.mkdir(out, { recursive: true });
    await repairTail(jsonl);
  } catch (err) {
    throw new ClipcmpError(
      writeFailure(out, err),
    );
  }
  const device = await resolveDevice(deviceChoice);
  info(device.reason);
  if (dtype === "fp16") {
    const first = lists.flatMap((l) => l.items.slice(0, 4).map((it) => it.path));
    const labels = [...new Set(lists.flatMap((l) => l.items.map((it) => it.index)))].map((i) =>
      imagenetClasses()[i]!.clip
    );
    await switchToFp16(chosen, first, labels, {
      cacheDir: cacheDirFlag(v),
      device,
      log: info,
    });
  }
  const gpu = device.gpu ? { device: device.gpu.device } : undefined;
  const clip = chosen.clip ? await ClipModel.load(chosen.clip.dir, { ...device, log: info }) : undefined;
  const resnet = chosen.resnet ? await ResnetModel.load(chosen.resnet.source, { ...device, log: info }) : undefined;
  checkAgainstManifest(chosen, clip, resnet);
  // A resume continues only the same run: same models (by hash), templates, subset, recipes, datasets and shard.
  const header: RunHeader = {
    tool: "clipcmp",
    version: VERSION,
    models: {
      clip: clip ? { visual: clip.visual.session.sha256, textual: clip.textual.sha256 } : null,
      resnet: resnet ? resnet.graph.session.sha256 : null,
    },
    dtype,
    templates: clip ? [...templates] : [],
    subset,
    recipes: { ...(clip ? { clip: "clip" } : {}), ...(resnet ? { resnet: resnet.source.recipe.name } : {}) },
    datasets: Object.fromEntries(datasets),
    shard: shard ? `${shard[0]}/${shard[1]}` : null,
  };
  const previous = await readRunHeader(out);
  const existing = await readResults([jsonl]);
  if (previous) {
    const diff = headerDifference(previous, header);
    if (diff) {
      await clip?.release();
      await resnet?.release();
      device.gpu?.destroy();
      throw new ClipcmpError(`"${out}" holds results of a different run (${diff}); use a new --out`);
    }
  } else if (existing.length) {
    await clip?.release();
    await resnet?.release();
    device.gpu?.destroy();
    throw new ClipcmpError(`"${out}" holds results without a run.json (an older clipcmp?); use a new --out`);
  } else await writeFileAtomic(`${out}/run.json`, JSON.stringify(header, null, 2) + "\n");
  const done = new Set(existing.map((l) => `${l.dataset}\u0000${l.path}`));
  const classes = imagenetClasses();
  const pool = new DecodePool();
  info(`decoding on ${pool.size} worker thread${pool.size === 1 ? "" : "s"}`);
  try {
    for (const ds of lists) {
      const columns = scoringColumns(subset, ds.classes);
      const cols = columns ?? classes.map((c) => c.index);
      const inSet = new Set(cols);
      const outside = ds.items.filter((it) => !inSet.has(it.index));
      if (outside.length) {
        info(`${ds.name}: skipped ${outside.length} image(s) whose class is not among the ${cols.length} scored`);
      }
      const todo = ds.items.filter((it) => inSet.has(it.index) && !done.has(`${ds.name}\u0000${it.path}`));
      info(`${ds.name}: ${ds.items.length} images, ${cols.length}-way, ${ds.items.length - todo.length} already done`);
      const head = clip
        ? await buildHead(clip, cols.map((i) => classes[i]!.clip), templates, headProgress(info), {
          dir: cacheDirFlag(v),
          log: info,
        })
        : null;
      const t0 = performance.now();
      let written = 0;
      const k = Math.min(5, cols.length);
      await classifyFiles(todo, {
        clip: clip && head ? { model: clip, head: head.rows } : undefined,
        resnet,
        columns,
        gpu,
      }, {
        batch,
        k,
        pool,
        onSkip: (path, message) => info(`skipped ${path}: ${message}`),
        onBatch: async (results) => {
          const lines = results.map((r) =>
            JSON.stringify({ dataset: ds.name, path: r.path, true: r.index, top5: r.top } satisfies EvalLine)
          );
          await Deno.writeTextFile(jsonl, lines.join("\n") + "\n", { append: true });
          written += results.length;
          info(
            `${ds.name}: ${progressLine("", written, todo.length, "images", (performance.now() - t0) / 1000).trim()}`,
          );
          if (signal.aborted) throw new Interrupted();
        },
      });
      if (head) releaseRows(head.rows);
    }
  } catch (err) {
    if (!(err instanceof Interrupted)) throw err;
    const kept = (await readResults([jsonl])).length;
    info(
      `clipcmp eval: interrupted; ${kept} result(s) are kept in ${jsonl}: run the same command again to continue (metrics are written when the run completes)`,
    );
    return EXIT_INTERRUPTED;
  } finally {
    pool.close();
    await clip?.release();
    await resnet?.release();
    device.gpu?.destroy();
  }
  // Only images in the current listing count (a file removed since an earlier part of the run does not).
  const listed = new Set(lists.flatMap((l) => l.items.map((it) => `${l.name}\u0000${it.path}`)));
  const lines = (await readResults([jsonl])).filter((l) => listed.has(`${l.dataset}\u0000${l.path}`));
  await writeMetrics(out, lines, {
    time: new Date().toISOString(),
    run: header,
    device: { ep: device.ep, reason: device.reason, adapter: device.adapter },
  }, { reference: v.reference as string | undefined, json: v.json as boolean });
  return 0;
}, { interruptible: true });
