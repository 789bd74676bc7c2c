/**
 * `deno task compare`: ResNet-50 vs CLIP on the same images and the same label set.
 *
 * @module
 */
import { info, oneOf, parseFlags, runTask } from "../lib/cli/run.ts";
import { UsageError } from "../lib/errors.ts";
import { DEVICE_CHOICES, resolveDevice } from "../lib/device.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { ResnetModel, resolveResnet } from "../lib/models/resnet.ts";
import { cacheDir, locateDefaultModel } from "../lib/models/locate.ts";
import { type CompareDocument, compareModels, type Score } from "../lib/compare.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { DEFAULT_TEMPLATE } from "../lib/zeroshot.ts";
import { listImages } from "../lib/image/list.ts";

const HELP = `clipcmp compare: ResNet-50 vs CLIP zero-shot on the same images and the same label set

Usage: deno task compare [options] [IMAGE|DIR ...]

Images default to the 10 demo photos in data/samples/photo. Each image's class comes from an ImageNet
WordNet id at the start of its file name (n01614925_eagle.jpg) or its folder's name (n01614925/x.jpg).
Both models are scored on the label set made of the classes present; ResNet's 1000 logits are restricted
to it, and its unrestricted 1000-way top-5 is shown too.

Options:
  --clip DIR              CLIP model directory (immich layout: visual/, textual/)
  --resnet FILE|DIR       ResNet model: a .onnx file, or a directory with model.onnx
  --resnet-input MODE     imagenet (graph takes ImageNet-normalised input; default for a bare file)
                          or unit (graph normalises [0,1] RGB itself)
  --template TEXT         prompt template with {} (default "${DEFAULT_TEMPLATE}")
  --templates SET         clip80 (CLIP's 80 ImageNet templates), simple7, or a file with one per line;
                          the head averages them. Not together with --template
  --device auto|webgpu|wasm   where models and kernels run (default auto)
  --dtype fp32|fp16       precision (fp16 is not implemented yet)
  --alpha drop|white      drop alpha like PIL convert("RGB") (default), or composite onto white
  --exif-orientation ignore|apply   ignore EXIF orientation like PIL (default), or apply it
  --offline               never download; fail if a default model is not cached
  --cache-dir DIR         model cache (default $CLIPCMP_CACHE_DIR, else ~/.cache/clipcmp)
  --json                  print one JSON document on stdout (schema: docs/schemas/compare.schema.json)
  -h, --help              this help

Without --clip and --resnet the default models come from the cache. Given only one, only that one runs.
Exit codes: 0 done (skipped inputs are listed), 1 nothing processed or a model/setup/I/O error, 2 usage error.`;

const DEFAULT_IMAGES = "data/samples/photo";

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

function cell(s: Score | undefined, trueIndex: number, width: number): string {
  if (!s) return "".padEnd(width);
  const mark = s.index === trueIndex ? "*" : " ";
  const label = s.label.length > width - 9 ? `${s.label.slice(0, width - 10)}…` : s.label;
  return `${mark}${label.padEnd(width - 8)}${pct(s.score).padStart(6)} `;
}

function printHuman(doc: CompareDocument): void {
  const w = 30;
  const heads = [
    doc.results[0]?.clip ? `CLIP (${doc.label_set.length} labels)` : null,
    doc.results[0]?.resnet ? `ResNet (same ${doc.label_set.length} labels)` : null,
    doc.results[0]?.resnet ? "ResNet (all 1000 classes)" : null,
  ].filter((h): h is string => h !== null);
  doc.results.forEach((r, i) => {
    console.log(`\n[${i + 1}/${doc.results.length}] ${r.path}  true: ${r.true.label} (#${r.true.index})`);
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
  const { summary: s } = doc;
  console.log(`\nTop-1 accuracy on ${s.n} images (* marks the true class), label set of ${doc.label_set.length}:`);
  if (s.clip) {
    console.log(
      `  CLIP zero-shot          top-1 ${pct(s.clip.top1).padStart(6)}   top-5 ${pct(s.clip.top5).padStart(6)}`,
    );
  }
  if (s.resnet) {
    console.log(
      `  ResNet, same labels     top-1 ${pct(s.resnet.top1).padStart(6)}   top-5 ${pct(s.resnet.top5).padStart(6)}`,
    );
    console.log(
      `  ResNet, 1000 classes    top-1 ${pct(s.resnet.top1_1000!).padStart(6)}   top-5 ${
        pct(s.resnet.top5_1000!).padStart(6)
      }`,
    );
  }
  if (s.skipped) console.log(`  ${s.skipped} input(s) skipped`);
}

runTask("compare", async (args) => {
  const { values: v, positionals } = parseFlags(args, {
    clip: { type: "string" },
    resnet: { type: "string" },
    "resnet-input": { type: "string" },
    template: { type: "string" },
    templates: { type: "string" },
    device: { type: "string", default: "auto" },
    dtype: { type: "string", default: "fp32" },
    alpha: { type: "string", default: "drop" },
    "exif-orientation": { type: "string", default: "ignore" },
    offline: { type: "boolean", default: false },
    "cache-dir": { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  }, true);
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  const deviceChoice = oneOf("--device", v.device as string, DEVICE_CHOICES);
  const dtype = oneOf("--dtype", v.dtype as string, ["fp32", "fp16"] as const);
  if (dtype === "fp16") throw new UsageError("--dtype fp16 is not implemented yet for compare; use --dtype fp32");
  const resnetInput = v["resnet-input"] === undefined
    ? undefined
    : oneOf("--resnet-input", v["resnet-input"] as string, ["imagenet", "unit"] as const);
  const decode = {
    alpha: oneOf("--alpha", v.alpha as string, ["drop", "white"] as const),
    exifOrientation: oneOf("--exif-orientation", v["exif-orientation"] as string, ["ignore", "apply"] as const),
  };
  const templates = await resolveTemplates(v.template as string | undefined, v.templates as string | undefined);
  if (resnetInput && v.resnet === undefined) throw new UsageError("--resnet-input needs --resnet");

  // Resolve models before touching the GPU, so a missing model fails fast.
  let clipDir = v.clip as string | undefined;
  let resnetPath = v.resnet as string | undefined;
  if (clipDir === undefined && resnetPath === undefined) {
    const opts = { cacheDir: cacheDir(v["cache-dir"] as string | undefined), offline: v.offline as boolean };
    clipDir = await locateDefaultModel("clip", opts);
    resnetPath = await locateDefaultModel("resnet", opts);
  }
  const resnetSource = resnetPath !== undefined ? await resolveResnet(resnetPath, resnetInput) : undefined;
  const images = await listImages(positionals.length ? positionals : [DEFAULT_IMAGES]);

  const device = await resolveDevice(deviceChoice);
  info(device.reason);
  const clip = clipDir !== undefined ? await ClipModel.load(clipDir, device) : undefined;
  const resnet = resnetSource ? await ResnetModel.load(resnetSource, device) : undefined;
  try {
    const doc = await compareModels({ images, clip, resnet, device, templates, decode, log: info });
    if (v.json) console.log(JSON.stringify(doc, null, 2));
    else printHuman(doc);
    for (const s of doc.skipped) info(`skipped ${s.path}: ${s.reason}`);
    if (doc.summary.n === 0) {
      info("nothing was processed");
      return 1;
    }
    return 0;
  } finally {
    await clip?.release();
    await resnet?.release();
    device.gpu?.destroy();
  }
});
