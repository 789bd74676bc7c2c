/**
 * `deno task eval`: accuracy at dataset scale, resumable and sharded.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG, ENGINE_FLAG } from "../lib/cli/device_flags.ts";
import { EXIT_INTERRUPTED, info, oneOf, parseFlags, positiveInt, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { cacheDirFlag, chooseModelsFor, SEVERAL_MODEL_FLAGS } from "../lib/cli/models.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { listImageFolder, NamedClasses, readClassMap } from "../lib/eval.ts";
import { mergeEval, runEval } from "../lib/tasks/eval.ts";
import { parseDatasets, parseShard } from "../lib/cli/datasets.ts";
import { defaultOutDir } from "../lib/output.ts";
import { printMetrics } from "../lib/cli/eval_text.ts";
import { EVAL_HELP } from "../lib/cli/help.ts";

runTask("eval", async (args, signal) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      model: { type: "string", default: "both" },
      dataset: { type: "string", multiple: true },
      subset: { type: "string", default: "auto" },
      reference: { type: "string" },
      "class-map": { type: "string" },
      out: { type: "string" },
      limit: { type: "string" },
      shard: { type: "string" },
      batch: { type: "string", default: "32" },
      merge: { type: "boolean", default: false },
      template: { type: "string" },
      templates: { type: "string" },
      ...DEVICE_FLAG,
      ...ENGINE_FLAG,
      ...DTYPE_FLAG,
      json: { type: "boolean", default: false },
      ...SEVERAL_MODEL_FLAGS,
    },
    true,
    EVAL_HELP,
  );
  const { device: deviceChoice, engine, dtype } = deviceFlags(v);
  if (v.merge) {
    if (positionals.length === 0) throw new UsageError("--merge needs the shard directories to merge");
    if (v.out === undefined) throw new UsageError("--merge needs --out DIR for the merged results");
    const out = v.out;
    const r = await mergeEval(positionals, out, { reference: v.reference, log: info });
    printMetrics(out, r, v.json);
    return 0;
  }
  if (positionals.length) {
    throw new UsageError(`unexpected argument "${positionals[0]}" (datasets go in --dataset NAME=DIR)`);
  }
  const which = oneOf("--model", v.model, ["clip", "resnet", "both"] as const);
  const subset = oneOf("--subset", v.subset, ["imagenet-r", "imagenet-a", "auto", "none"] as const);
  const batch = positiveInt("--batch", v.batch)!;
  const limit = positiveInt("--limit", v.limit);
  const shard = parseShard(v.shard);
  const datasets = parseDatasets(v.dataset ?? [], { plainNames: false });
  if (datasets.length === 0) throw new UsageError("give at least one --dataset NAME=DIR");
  if (v.reference !== undefined && !datasets.some(([n]) => n === v.reference)) {
    throw new UsageError(`--reference "${v.reference}" is not one of the --dataset names`);
  }
  const templates = await resolveTemplates(v.template, v.templates);
  const lists = [];
  const onSkip = (p: string, why: string) => info(`skipped ${p}: ${why}`);
  // Class-name ImageFolders share one registry, so a class has one id in every dataset of the run.
  const named = new NamedClasses(v["class-map"] === undefined ? undefined : await readClassMap(v["class-map"]));
  for (const [name, dir] of datasets) {
    lists.push({ name, ...(await listImageFolder(dir, { shard, limit, onSkip, named })) });
  }
  if (lists.every((l) => l.items.length === 0)) {
    throw new ClipcmpError(
      `Nothing to evaluate: ${datasets.map(([n, d]) => `${n} (${d})`).join(", ")} ${
        shard ? `give no images to shard ${shard[0]}/${shard[1]}` : "hold no .jpg or .png images"
      }`,
    );
  }
  const chosen = await chooseModelsFor(v, which, true);
  const out = v.out ?? defaultOutDir("eval");
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
    engine,
    dtype,
    reference: v.reference,
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
  printMetrics(out, r, v.json);
  return 0;
}, { interruptible: true });
