/**
 * `deno task compare` (part 4): ResNet-50 vs CLIP on photo, art and sketch, one label set, and a report.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { EXIT_INTERRUPTED, info, oneOf, parseFlags, runTask } from "../lib/cli/run.ts";
import { DECODE_FLAGS, decodeOptions } from "../lib/cli/decode_flags.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { prepareOutDir, writeFailure } from "../lib/output.ts";
import { repoPath } from "../lib/data/paths.ts";
import { resolveDevice } from "../lib/device.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { ResnetModel } from "../lib/models/resnet.ts";
import {
  cacheDirFlag,
  checkAgainstManifest,
  chooseModels,
  MODEL_FLAGS,
  MODEL_HELP,
  switchToFp16,
} from "../lib/cli/models.ts";
import {
  classOfPath,
  type CompareDocument,
  compareModels,
  type DomainInput,
  INTERRUPTED,
  type Score,
} from "../lib/compare.ts";
import { imagenetClasses } from "../lib/data/imagenet.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { DEFAULT_TEMPLATE } from "../lib/zeroshot.ts";
import { listImages } from "../lib/image/list.ts";
import { modelLabels, writeReport } from "../lib/report/write.ts";

const HELP = `clipcmp compare: ResNet-50 vs CLIP zero-shot on photo, art and sketch, scored on one label set

Usage: deno task compare [options] [IMAGE|DIR ...]

By default it runs the embedded sets: photo (the 10 demo photos) and the public-domain renditions (93 art,
27 sketch). Images given as arguments replace them, as one domain "images". Each image's class comes from an
ImageNet WordNet id at the start of its file name (n01614925_eagle.jpg) or its folder's name (n01614925/x.jpg).
Both models are scored on the label set made of all classes present; ResNet's 1000 logits are restricted to
it, and its unrestricted 1000-way top-5 is kept too.

Options:
  --dataset NAME=DIR      add a domain from an ImageFolder named by wnid (repeatable), e.g. sketch=~/imagenet-sketch
${MODEL_HELP}
  --template TEXT         prompt template with {} (default "${DEFAULT_TEMPLATE}")
  --templates SET         clip80 (CLIP's 80 ImageNet templates), simple7, or a file with one per line;
                          the head averages them. Not together with --template
  --device auto|webgpu|wasm   where models and kernels run (default auto)
  --dtype fp32|fp16       precision; fp16 models are converted, cached, and used only after a self-test
                          against fp32 on the first images
  --alpha drop|white      drop alpha like PIL convert("RGB") (default), or composite onto white
  --exif-orientation ignore|apply   ignore EXIF orientation like PIL (default), or apply it
  --out DIR               report directory (default reports/compare-<time>, in the folder you run from);
                          checked before any work
  --no-report             do not write a report
  --per-image             also print every image's top-5 tables
  --json                  print one JSON document on stdout (schema: docs/schemas/compare.schema.json)
  -h, --help              this help

Without --clip and --resnet the default models come from the cache. Given only one, only that one runs.
Exit codes: 0 done (skipped inputs are listed), 1 nothing processed or a model/setup/I/O error, 2 usage error.`;

const DEFAULT_DOMAINS: [string, string][] = [
  ["photo", repoPath("data/samples/photo")],
  ["art", repoPath("data/renditions/art")],
  ["sketch", repoPath("data/renditions/sketch")],
];

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function cell(s: Score | undefined, trueIndex: number, width: number): string {
  if (!s) return "".padEnd(width);
  const mark = s.index === trueIndex ? "*" : " ";
  const label = s.label.length > width - 9 ? `${s.label.slice(0, width - 10)}…` : s.label;
  return `${mark}${label.padEnd(width - 8)}${pct(s.score).padStart(6)} `;
}

function printPerImage(doc: CompareDocument): void {
  const w = 30;
  const m = doc.label_set.length;
  const heads = [
    doc.results[0]?.clip ? `CLIP (${m} labels)` : null,
    doc.results[0]?.resnet ? `ResNet (same ${m} labels)` : null,
    doc.results[0]?.resnet ? "ResNet (all 1000 classes)" : null,
  ].filter((h): h is string => h !== null);
  doc.results.forEach((r, i) => {
    console.log(
      `\n[${i + 1}/${doc.results.length}] ${r.path}  (${r.domain})  true: ${r.true.label} (#${r.true.index})`,
    );
    console.log(`  ${heads.map((h) => h.padEnd(w)).join(" ")}`);
    for (let k = 0; k < 5; k++) {
      const cols = [
        r.clip ? cell(r.clip.top5[k], r.true.index, w) : null,
        r.resnet ? cell(r.resnet.top5[k], r.true.index, w) : null,
        r.resnet ? cell(r.resnet.top5_1000[k], r.true.index, w) : null,
      ].filter((c): c is string => c !== null);
      console.log(`  ${cols.join(" ")}`);
    }
  });
  console.log();
}

function printSummary(doc: CompareDocument, reportDir: string | null): void {
  console.log(
    `Label set: ${doc.label_set.length} classes. Top-1 / top-5 with the 95 % interval of top-1, and the mean WordNet severity of top-1 mistakes:`,
  );
  for (const d of doc.domains) {
    for (const [k, a] of Object.entries(d.models)) {
      console.log(
        `  ${d.domain.padEnd(8)} ${(modelLabels(doc)[k] ?? k).padEnd(28)} n=${String(a.n).padEnd(4)} top-1 ${
          pct(a.top1).padStart(6)
        } [${pct(a.top1_ci[0])}–${pct(a.top1_ci[1])}]  top-5 ${pct(a.top5).padStart(6)}  mistake severity ${
          a.mistake_severity === null ? "–" : a.mistake_severity.toFixed(2)
        }`,
      );
    }
  }
  const small = doc.domains.filter((d) => d.inconclusive).map((d) => d.domain);
  if (small.length) {
    console.log(`  Too few images to conclude for ${small.join(", ")}: use deno task eval on a full dataset.`);
  }
  if (doc.summary.skipped) console.log(`  ${doc.summary.skipped} input(s) skipped (listed on stderr)`);
  if (reportDir) console.log(`Report: ${reportDir}/report.html (also report.md, results.json, results.csv)`);
}

function parseDatasets(values: string[]): [string, string][] {
  return values.map((v) => {
    const i = v.indexOf("=");
    if (i <= 0 || i === v.length - 1) throw new UsageError(`--dataset must be NAME=DIR, got "${v}"`);
    const name = v.slice(0, i);
    if (!/^[\w.-]+$/.test(name)) {
      throw new UsageError(`--dataset name must be letters, digits, _ . or -, got "${name}"`);
    }
    return [name, v.slice(i + 1)];
  });
}

runTask("compare", async (args, signal) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      dataset: { type: "string", multiple: true },
      ...MODEL_FLAGS,
      template: { type: "string" },
      templates: { type: "string" },
      ...DEVICE_FLAG,
      ...DTYPE_FLAG,
      ...DECODE_FLAGS,
      out: { type: "string" },
      "no-report": { type: "boolean", default: false },
      "per-image": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
    true,
    HELP,
  );
  const { device: deviceChoice, dtype } = deviceFlags(v);
  const decode = decodeOptions(v);
  const resnetInput = v["resnet-input"] === undefined
    ? undefined
    : oneOf("--resnet-input", v["resnet-input"] as string, ["imagenet", "unit"] as const);
  if (resnetInput && v.resnet === undefined) throw new UsageError("--resnet-input needs --resnet");
  if (v.out !== undefined && v["no-report"]) throw new UsageError("--out and --no-report exclude each other");
  const datasets = parseDatasets((v.dataset as string[] | undefined) ?? []);
  const templates = await resolveTemplates(v.template as string | undefined, v.templates as string | undefined);

  // Check the output location, then resolve (and fetch) models and inputs before touching the GPU, so a bad
  // --out, a missing model or folder fails fast.
  const reportDir = v["no-report"] ? null : await prepareOutDir(
    (v.out as string | undefined) ?? `reports/compare-${new Date().toISOString().replace(/[:.]/g, "-")}`,
  );
  const chosen = await chooseModels(v, { clip: true, resnet: true });
  const sources: [string, string[]][] = positionals.length
    ? [["images", positionals]]
    : DEFAULT_DOMAINS.map(([n, d]) => [n, [d]]);
  for (const [name, dir] of datasets) {
    if (sources.some(([n]) => n === name)) throw new UsageError(`--dataset name "${name}" is used twice`);
    sources.push([name, [dir]]);
  }
  const domains: DomainInput[] = [];
  for (const [name, paths] of sources) {
    domains.push({
      name,
      paths: await listImages(paths, (p, why) => info(`skipped ${p}: ${why}`)),
    });
  }

  const device = await resolveDevice(deviceChoice);
  info(device.reason);
  if (dtype === "fp16") {
    // Convert, then trust fp16 only after it agrees with fp32 on the first images of the run.
    const paths = domains.flatMap((d) => d.paths).filter((p) => classOfPath(p));
    const labels = [...new Set(paths.map((p) => classOfPath(p)!.index))].map((i) => imagenetClasses()[i]!.clip);
    await switchToFp16(chosen, paths, labels, {
      cacheDir: cacheDirFlag(v),
      device,
      log: info,
    }, decode);
  }
  const clip = chosen.clip ? await ClipModel.load(chosen.clip.dir, { ...device, log: info }) : undefined;
  const resnet = chosen.resnet ? await ResnetModel.load(chosen.resnet.source, { ...device, log: info }) : undefined;
  checkAgainstManifest(chosen, clip, resnet);
  try {
    const { doc, thumbnails } = await compareModels({
      domains,
      clip,
      resnet,
      names: { clip: chosen.clip?.name, resnet: chosen.resnet?.name },
      signal,
      device,
      templates,
      decode,
      thumbnails: reportDir ? 80 : 0,
      headCache: { dir: cacheDirFlag(v), log: info },
      dtype,
      log: info,
    });
    for (const s of doc.skipped) info(`skipped ${s.path}: ${s.reason}`);
    if (doc.summary.n === 0) {
      if (doc.incomplete === INTERRUPTED) {
        info(`clipcmp compare: interrupted before any image was scored; nothing was written`);
        return EXIT_INTERRUPTED;
      }
      throw new ClipcmpError("Nothing was processed: every input was skipped");
    }
    const nl = doc.label_set.length;
    if (nl <= 5) {
      info(
        `warning: the label set has ${nl} class${nl === 1 ? "" : "es"}: ${
          nl === 1 ? "top-1 and top-5" : "top-5"
        } over it ${nl === 1 ? "are" : "is"} 100 % by construction; the 1000-way ResNet rows are the informative ones`,
      );
    }
    if (reportDir) {
      try {
        await writeReport(reportDir, doc, thumbnails);
      } catch (err) {
        throw new ClipcmpError(writeFailure(reportDir, err));
      }
      info(`report written to ${reportDir}`);
    }
    if (v.json) console.log(JSON.stringify(doc, null, 2));
    else {
      if (v["per-image"]) printPerImage(doc);
      printSummary(doc, reportDir);
    }
    if (doc.incomplete === INTERRUPTED) {
      info(
        `clipcmp compare: interrupted after ${doc.summary.n} images; ${
          reportDir ? `the report of those is in ${reportDir}` : "their results were printed"
        } (the rest are listed as not run)`,
      );
      return EXIT_INTERRUPTED;
    }
    if (doc.incomplete) {
      throw new ClipcmpError(
        `stopped after ${doc.summary.n} images: ${doc.incomplete}; the finished results were ${
          reportDir ? `written to ${reportDir}` : "printed"
        }`,
      );
    }
    return 0;
  } finally {
    await clip?.release();
    await resnet?.release();
    device.gpu?.destroy();
  }
}, { interruptible: true });
