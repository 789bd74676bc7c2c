/**
 * `deno task compare` (part 4): ResNet-50 vs CLIP on photo, art and sketch, one label set, and a report.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG, ENGINE_FLAG } from "../lib/cli/device_flags.ts";
import { info, oneOf, parseFlags, runTask } from "../lib/cli/run.ts";
import { DECODE_FLAGS, decodeOptions } from "../lib/cli/decode_flags.ts";
import { UsageError } from "../lib/errors.ts";
import { defaultOutDir, prepareOutDir } from "../lib/output.ts";
import { repoPath } from "../lib/data/paths.ts";
import { cacheDirFlag, chooseModels, SEVERAL_MODEL_FLAGS } from "../lib/cli/models.ts";
import { listImageFolder, NamedClasses, readClassMap } from "../lib/eval.ts";
import type { DomainInput } from "../lib/compare.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { listImages } from "../lib/image/list.ts";
import { runCompare } from "../lib/tasks/compare.ts";
import { finishCompare } from "../lib/cli/compare_text.ts";
import { parseDatasets } from "../lib/cli/datasets.ts";
import { COMPARE_HELP } from "../lib/cli/help.ts";

const DEFAULT_DOMAINS: [string, string][] = [
  ["photo", repoPath("data/samples/photo")],
  ["art", repoPath("data/renditions/art")],
  ["sketch", repoPath("data/renditions/sketch")],
];

runTask("compare", async (args, signal) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      dataset: { type: "string", multiple: true },
      ...SEVERAL_MODEL_FLAGS,
      template: { type: "string" },
      templates: { type: "string" },
      ...DEVICE_FLAG,
      ...ENGINE_FLAG,
      ...DTYPE_FLAG,
      ...DECODE_FLAGS,
      out: { type: "string" },
      "no-report": { type: "boolean", default: false },
      "per-image": { type: "boolean", default: false },
      "class-map": { type: "string" },
      json: { type: "boolean", default: false },
    },
    true,
    COMPARE_HELP,
  );
  const { device: deviceChoice, engine, dtype } = deviceFlags(v);
  const decode = decodeOptions(v);
  const resnetInput = v["resnet-input"] === undefined
    ? undefined
    : oneOf("--resnet-input", v["resnet-input"], ["imagenet", "unit"] as const);
  if (resnetInput && v.resnet === undefined) throw new UsageError("--resnet-input needs --resnet");
  if (v.out !== undefined && v["no-report"]) throw new UsageError("--out and --no-report exclude each other");
  const datasets = parseDatasets(v.dataset ?? []);
  const templates = await resolveTemplates(v.template, v.templates);

  // Check the output location, then resolve (and fetch) models and inputs before touching the GPU, so a bad
  // --out, a missing model or folder fails fast.
  const reportDir = v["no-report"] ? null : await prepareOutDir(
    v.out ?? defaultOutDir("compare"),
  );
  const chosen = await chooseModels(v, { clip: true, resnet: true }, true);
  const sources: [string, string[]][] = positionals.length
    ? [["images", positionals]]
    : DEFAULT_DOMAINS.map(([n, d]) => [n, [d]]);
  for (const [name, dir] of datasets) {
    if (sources.some(([n]) => n === name)) throw new UsageError(`--dataset name "${name}" is used twice`);
    sources.push([name, [dir]]);
  }
  const domains: DomainInput[] = [];
  const onSkip = (p: string, why: string) => info(`skipped ${p}: ${why}`);
  // A --dataset whose folders are class names (or any, with --class-map) is a class-name ImageFolder.
  const named = new NamedClasses(v["class-map"] === undefined ? undefined : await readClassMap(v["class-map"]));
  const byName = new Map(datasets);
  for (const [name, paths] of sources) {
    const dir = byName.get(name);
    // A flat folder of files named by wnid has no class folders: it is read as before.
    const folder = dir === undefined ? null : await listImageFolder(dir, { onSkip, named }).catch(() => null);
    if (folder?.prompts) {
      domains.push({
        name,
        paths: folder.items.map((it) => it.path),
        classes: new Map(folder.items.map((it) => [it.path, it.index])),
      });
    } else domains.push({ name, paths: await listImages(paths, onSkip) });
  }

  const doc = await runCompare({
    models: chosen,
    domains,
    templates,
    device: deviceChoice,
    engine,
    dtype,
    decode,
    reportDir,
    cacheDir: cacheDirFlag(v),
    signal,
    log: info,
    classNames: named.names,
  });
  return finishCompare(doc, reportDir, { json: v.json, perImage: v["per-image"] });
}, { interruptible: true });
