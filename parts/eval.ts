/**
 * `deno task eval`: accuracy at dataset scale, resumable and sharded.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { EXIT_INTERRUPTED, info, oneOf, parseFlags, positiveInt, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { cacheDirFlag, chooseModelsFor, MODEL_FLAGS, MODEL_HELP } from "../lib/cli/models.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { listImageFolder } from "../lib/eval.ts";
import { type EvalOutcome, mergeEval, runEval } from "../lib/tasks/eval.ts";

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

/** The metrics table, one line per dataset and model. */
function printMetrics(out: string, r: EvalOutcome, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(r.doc, null, 2));
    return;
  }
  for (const m of r.metrics) {
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
    const r = await mergeEval(positionals, out, { reference: v.reference as string | undefined, log: info });
    printMetrics(out, r, v.json as boolean);
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
  const r = await runEval({
    models: chosen,
    datasets: lists,
    dirs: datasets,
    out,
    templates,
    subset,
    batch,
    shard,
    device: deviceChoice,
    dtype,
    reference: v.reference as string | undefined,
    cacheDir: cacheDirFlag(v),
    log: info,
    signal,
  });
  if ("interrupted" in r) {
    info(
      `clipcmp eval: interrupted; ${r.kept} result(s) are kept in ${r.jsonl}: run the same command again to continue (metrics are written when the run completes)`,
    );
    return EXIT_INTERRUPTED;
  }
  printMetrics(out, r, v.json as boolean);
  return 0;
}, { interruptible: true });
