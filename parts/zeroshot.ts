/**
 * `deno task zeroshot` (part 3): CLIP zero-shot classification of any images over any labels.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { info, parseFlags, runTask } from "../lib/cli/run.ts";
import { DECODE_FLAGS, decodeOptions } from "../lib/cli/decode_flags.ts";
import { ClipcmpError, firstLine, UsageError } from "../lib/errors.ts";
import { CLIP_LOGIT_SCALE } from "../lib/models/clip.ts";
import {
  cacheDirFlag,
  checkAgainstManifest,
  chooseModels,
  CLIP_MODEL_FLAGS,
  CLIP_MODEL_HELP,
} from "../lib/cli/models.ts";
import { listImages } from "../lib/image/list.ts";
import { imagenetClasses } from "../lib/data/imagenet.ts";
import { type Label, parseLabelsFile, validateLabels } from "../lib/zeroshot.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { checkedTopK } from "../lib/scoring.ts";
import { runZeroshot } from "../lib/tasks/zeroshot.ts";

const HELP = `clipcmp zeroshot: CLIP zero-shot classification of any images over any labels

Usage: deno task zeroshot IMAGE|DIR ... [options]

Labels (one of; default --imagenet):
  --labels a,b,c          comma-separated labels
  --labels-file FILE      one label per line, or an index dict (imagenet1000_clsidx_to_labels.txt, Python or JSON)
                          ({0: 'tench, Tinca tinca', ...}: indices kept, first name used)
  --imagenet              CLIP's curated names for the 1000 ImageNet classes
Prompts (one of):
  --template TEXT         one template with {} (default "a photo of a {}.")
  --templates SET         clip80, simple7, or a file with one template per line
Options:
  --top-k K               how many labels per image (1..10, default 5)
  --no-logit-scale        softmax over raw cosines, a common mistake (near-uniform probabilities), for
                          comparison only; CLIP multiplies by its logit scale, 100
${CLIP_MODEL_HELP}
  --device auto|webgpu|wasm   (default auto)
  --dtype fp32|fp16       fp16 models are converted, cached, and used only after a self-test against fp32
  --alpha drop|white, --exif-orientation ignore|apply   as PIL by default
  --json                  one JSON document on stdout (schema: docs/schemas/zeroshot.schema.json)
  -h, --help              this help

Probabilities are softmax(100 · cos(image, label)) over the labels given.`;

async function readLabels(v: Record<string, unknown>): Promise<{ labels: Label[]; source: string }> {
  const given = ["labels", "labels-file", "imagenet"].filter((k) => v[k] !== undefined && v[k] !== false);
  if (given.length > 1) throw new UsageError(`--${given.join(" and --")} exclude each other: give one`);
  if (v.labels !== undefined) {
    const labels = (v.labels as string).split(",").map((label, index) => ({ label: label.trim(), index }));
    validateLabels(labels, "--labels");
    return { labels, source: "--labels" };
  }
  if (v["labels-file"] !== undefined) {
    const path = v["labels-file"] as string;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new ClipcmpError(`--labels-file "${path}": file not found`);
      throw new ClipcmpError(`Cannot read --labels-file "${path}": ${firstLine(err)}`);
    }
    const labels = parseLabelsFile(text, `--labels-file "${path}"`);
    validateLabels(labels, `--labels-file "${path}"`);
    return { labels, source: path };
  }
  return { labels: imagenetClasses().map((c) => ({ label: c.clip, index: c.index })), source: "imagenet (CLIP names)" };
}

/** Images decoded and encoded at a time. */

runTask("zeroshot", async (args) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      labels: { type: "string" },
      "labels-file": { type: "string" },
      imagenet: { type: "boolean" },
      template: { type: "string" },
      templates: { type: "string" },
      "top-k": { type: "string", default: "5" },
      "no-logit-scale": { type: "boolean", default: false },
      ...CLIP_MODEL_FLAGS,
      ...DEVICE_FLAG,
      ...DTYPE_FLAG,
      ...DECODE_FLAGS,
      json: { type: "boolean", default: false },
    },
    true,
    HELP,
  );
  const { device: deviceChoice, dtype } = deviceFlags(v);
  const decode = decodeOptions(v);
  const topK = checkedTopK("--top-k", v["top-k"] as string);
  if (positionals.length === 0) throw new UsageError("give at least one image or directory");
  const { labels, source } = await readLabels(v);
  const templates = await resolveTemplates(v.template as string | undefined, v.templates as string | undefined);
  const k = Math.min(topK, labels.length);
  const scale = v["no-logit-scale"] ? 1 : CLIP_LOGIT_SCALE;

  const chosen = await chooseModels(v, { clip: true, resnet: false });
  const files = await listImages(positionals, (p, why) => info(`skipped ${p}: ${why}`));
  const doc = await runZeroshot({
    clip: chosen.clip!,
    files,
    labels,
    labelsSource: source,
    templates,
    topK,
    scale,
    device: deviceChoice,
    dtype,
    decode,
    cacheDir: cacheDirFlag(v),
    log: info,
    checkModel: (clip) => checkAgainstManifest(chosen, clip),
  });
  if (v.json) {
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  const accuracy = doc.summary.accuracy;
  doc.results.forEach((r, i) => {
    console.log(`\n[${i + 1}/${doc.results.length}] ${r.path}`);
    r.top_k.forEach((s, j) =>
      console.log(`  ${j + 1}. ${s.label.padEnd(32)} ${(100 * s.score).toFixed(2).padStart(6)}%`)
    );
  });
  console.log(
    `\n${doc.results.length} image(s) classified over ${doc.labels.length} labels${
      doc.skipped.length ? `, ${doc.skipped.length} skipped` : ""
    }`,
  );
  if (accuracy) {
    const pc = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(
      `accuracy on the ${accuracy.n} image(s) named by a WordNet id whose class is among the labels: top-1 ${
        pc(accuracy.top1)
      } [${pc(accuracy.top1_ci[0])}–${pc(accuracy.top1_ci[1])}], top-${Math.min(5, k)} ${pc(accuracy.top5)}`,
    );
  }
  return 0;
});
