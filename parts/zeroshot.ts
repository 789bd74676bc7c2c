/**
 * `deno task zeroshot` (part 3): CLIP zero-shot classification of any images over any labels.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG, ENGINE_FLAG } from "../lib/cli/device_flags.ts";
import { info, parseFlags, runTask } from "../lib/cli/run.ts";
import { DECODE_FLAGS, decodeOptions } from "../lib/cli/decode_flags.ts";
import { UsageError } from "../lib/errors.ts";
import { CLIP_LOGIT_SCALE } from "../lib/models/clip.ts";
import { cacheDirFlag, checkAgainstManifest, chooseModels, CLIP_MODEL_FLAGS } from "../lib/cli/models.ts";
import { listImages } from "../lib/image/list.ts";
import { readLabels } from "../lib/cli/labels.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { checkedTopK } from "../lib/scoring.ts";
import { runZeroshot } from "../lib/tasks/zeroshot.ts";
import { ZEROSHOT_HELP } from "../lib/cli/help.ts";

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
      ...ENGINE_FLAG,
      ...DTYPE_FLAG,
      ...DECODE_FLAGS,
      json: { type: "boolean", default: false },
    },
    true,
    ZEROSHOT_HELP,
  );
  const { device: deviceChoice, engine, dtype } = deviceFlags(v);
  const decode = decodeOptions(v);
  const topK = checkedTopK("--top-k", v["top-k"]);
  if (positionals.length === 0) throw new UsageError("give at least one image or directory");
  const { labels, source } = await readLabels(v);
  const templates = await resolveTemplates(v.template, v.templates);
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
    engine,
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
