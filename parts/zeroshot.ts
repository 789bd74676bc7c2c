/**
 * `deno task zeroshot` (part 3): CLIP zero-shot classification of any images over any labels.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { info, parseFlags, runTask } from "../lib/cli/run.ts";
import { DECODE_FLAGS, decodeOptions } from "../lib/cli/decode_flags.ts";
import { ClipcmpError, firstLine, UsageError } from "../lib/errors.ts";
import { resolveDevice } from "../lib/device.ts";
import { activationNote, CLIP_LOGIT_SCALE, ClipModel } from "../lib/models/clip.ts";
import { checkAgainstManifest, chooseModels, CLIP_MODEL_FLAGS, CLIP_MODEL_HELP } from "../lib/cli/models.ts";
import { cacheDir } from "../lib/models/locate.ts";
import { checkedFp16Clip } from "../lib/fp16.ts";
import { decodeImageFile, precheckImageFile, type RgbaImage } from "../lib/image/decode.ts";
import { listImages } from "../lib/image/list.ts";
import { imagenetClasses } from "../lib/data/imagenet.ts";
import { headProgress } from "../lib/progress_line.ts";
import { buildHead, type Label, labelledAccuracy, parseLabelsFile, validateLabels } from "../lib/zeroshot.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { checkedTopK, finiteOrThrow, releaseRows, zeroShotTopK } from "../lib/scoring.ts";
import { VERSION } from "../lib/version.ts";

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
const ZS_CHUNK = 64;

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
  const clipDir = chosen.clip!.dir;
  const files = await listImages(positionals, (p, why) => info(`skipped ${p}: ${why}`));
  const skipped: { path: string; reason: string }[] = [];
  const skip = (path: string, err: unknown) => {
    skipped.push({ path, reason: firstLine(err) });
    info(`skipped ${path}: ${firstLine(err)}`);
  };
  // Images stream through in chunks: only one chunk of decoded pixels is held at a time (a few hundred 12 MP
  // photos would not fit in memory at once). A cheap header check first finds what is certainly unusable.
  const candidates: string[] = [];
  for (const path of files) {
    try {
      await precheckImageFile(path);
      candidates.push(path);
    } catch (err) {
      skip(path, err);
    }
  }
  const decodeChunk = async (paths: readonly string[]) => {
    const out: { path: string; image: RgbaImage }[] = [];
    for (const path of paths) {
      try {
        out.push({ path, image: await decodeImageFile(path, decode) });
      } catch (err) {
        skip(path, err);
      }
    }
    return out;
  };
  let chunkStart = 0;
  let first: { path: string; image: RgbaImage }[] = [];
  while (first.length === 0 && chunkStart < candidates.length) {
    first = await decodeChunk(candidates.slice(chunkStart, chunkStart + ZS_CHUNK));
    chunkStart += ZS_CHUNK;
  }
  if (first.length === 0) {
    throw new ClipcmpError(`Nothing to classify: ${skipped.length} input(s) skipped, none usable`);
  }

  const device = await resolveDevice(deviceChoice);
  info(device.reason);
  const runDir = dtype === "fp16"
    ? await checkedFp16Clip(clipDir, labels.map((l) => l.label), {
      cacheDir: cacheDir(v["cache-dir"] as string | undefined),
      device,
      samples: first.slice(0, 4).map((u) => u.image),
      log: info,
    })
    : clipDir;
  const clip = await ClipModel.load(runDir, { ...device, log: info });
  checkAgainstManifest(chosen, clip);
  try {
    info(`Testing CLIP on ${candidates.length} images`);
    info(
      `Loaded ${labels.length} categories from ${source}, ${templates.length} template(s): ${
        labels.length * templates.length
      } prompts`,
    );
    const prompts = labels.length * templates.length;
    if (prompts >= 200) {
      info(
        `Building the zero-shot head: ${prompts} prompts${
          clip.textBatch === 1 ? " (this text graph takes one prompt per run)" : ""
        }`,
      );
    }
    const head = await buildHead(clip, labels.map((l) => l.label), templates, headProgress(info), {
      dir: cacheDir(v["cache-dir"] as string | undefined),
      log: info,
    });
    for (const p of head.truncated) info(`warning: prompt over 77 tokens, truncated: "${p.slice(0, 60)}…"`);
    if (scale === 1) {
      info(
        "warning: --no-logit-scale reproduces a common mistake (no logit scale); these probabilities are near-uniform",
      );
    }
    const gpu = device.gpu ? { device: device.gpu.device } : undefined;
    const results: { path: string; top_k: { label: string; index: number; score: number }[] }[] = [];
    let used: { path: string; image: RgbaImage }[] = first;
    while (used.length) {
      const img = await clip.encodeImages(used.map((u) => u.image));
      try {
        const top = await finiteOrThrow(
          clip.visual.session.path,
          used.map((u) => u.path),
          zeroShotTopK(img, head.rows, scale, k, gpu),
        );
        used.forEach((u, i) =>
          results.push({
            path: u.path,
            top_k: Array.from(top.indices.subarray(i * k, (i + 1) * k), (j, s) => ({
              label: labels[j]!.label,
              index: labels[j]!.index,
              score: top.values[i * k + s]!,
            })),
          })
        );
      } finally {
        releaseRows(img);
      }
      used = [];
      while (used.length === 0 && chunkStart < candidates.length) {
        used = await decodeChunk(candidates.slice(chunkStart, chunkStart + ZS_CHUNK));
        chunkStart += ZS_CHUNK;
      }
    }
    releaseRows(head.rows);
    info(`Text features: [${labels.length}, ${clip.dim}]  Image features: [${results.length}, ${clip.dim}]`);
    if (labels.length === 1) {
      info("warning: one label only: every image gets it with probability 100 % by construction; give more labels");
    }
    // Indices are ImageNet's for --imagenet and for a 1000-entry index dict (imagenet1000_clsidx_to_labels.txt); else match names.
    const imagenetIndexed = labels.length === 1000 && labels.every((l, i) => l.index === i);
    const accuracy = labelledAccuracy(results, labels, imagenetIndexed);
    if (v.json) {
      console.log(JSON.stringify(
        {
          tool: "clipcmp",
          version: VERSION,
          task: "zeroshot",
          provenance: {
            time: new Date().toISOString(),
            ep: device.ep,
            device_reason: device.reason,
            adapter: device.adapter,
            dtype,
            model: {
              dir: clip.dir,
              visual: {
                path: clip.visual.session.path,
                sha256: clip.visual.session.sha256,
                ...(activationNote(clip.visual.session)
                  ? { activation_note: activationNote(clip.visual.session)! }
                  : {}),
              },
              textual: {
                path: clip.textual.path,
                sha256: clip.textual.sha256,
                ...(activationNote(clip.textual) ? { activation_note: activationNote(clip.textual)! } : {}),
              },
              tokenizer: clip.tokenizer.path,
            },
            labels_source: source,
            templates,
            logit_scale: scale,
          },
          labels,
          results,
          skipped,
          summary: { n: results.length, skipped: skipped.length, accuracy },
        },
        null,
        2,
      ));
    } else {
      results.forEach((r, i) => {
        console.log(`\n[${i + 1}/${results.length}] ${r.path}`);
        r.top_k.forEach((s, j) =>
          console.log(`  ${j + 1}. ${s.label.padEnd(32)} ${(100 * s.score).toFixed(2).padStart(6)}%`)
        );
      });
      console.log(
        `\n${results.length} image(s) classified over ${labels.length} labels${
          skipped.length ? `, ${skipped.length} skipped` : ""
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
    }
    return 0;
  } finally {
    await clip.release();
    device.gpu?.destroy();
  }
});
