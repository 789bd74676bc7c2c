/**
 * `deno task shift`: renders distribution shifts on the GPU (7 shifts x 5 severities), scores CLIP (zero-shot) and
 * the ResNet on every severity over the same 1000 ImageNet classes, and writes robustness curves.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { info, oneOf, parseFlags, positiveInt, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { cacheDirFlag, chooseModelsFor, MODEL_FLAGS, MODEL_HELP } from "../lib/cli/models.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { listImages } from "../lib/image/list.ts";
import { classOfImagePath } from "../lib/data/imagenet.ts";
import { type ShiftName, SHIFTS } from "../lib/shift/params.ts";
import { prepareOutDir } from "../lib/output.ts";
import { repoPath } from "../lib/data/paths.ts";
import { runShift } from "../lib/tasks/shift.ts";

const HELP = `clipcmp shift: how accuracy falls as a distribution shift grows

Usage: deno task shift [IMAGE|DIR ...] [options]

Renders each shift at severities 1-5 on the GPU (WGSL kernels; seeded where random), classifies every rendered
image with CLIP (zero-shot) and the ResNet over the same 1000 ImageNet classes, and writes robustness curves.
Images are labelled by a wnid: a file name starting with it (n02128385_leopard.jpg) or an ImageFolder
(DIR/n02128385/*.jpg). Default images: data/samples/photo.

Options:
  --shifts a,b,...           ${SHIFTS.join(", ")} (default all)
  --seed N                   noise seed (default 0; the same seed renders the same images)
  --precision f32|f16        kernel arithmetic (default f32; f16 needs shader-f16)
  --limit N                  first N images
  --batch N                  images per step (default 16)
  --out DIR                  report directory (default reports/shift-<time>, in the folder you run from)
  --template TEXT | --templates clip80|simple7|FILE
  --model clip|resnet|both   (default both)
  --device auto|webgpu|wasm  where the models run (the shifts always run on WebGPU)
  --dtype fp32|fp16          model precision; fp16 models are used only after a self-test against fp32
  --json                     print results.json's document on stdout
${MODEL_HELP}
  -h, --help                 this help

Outputs in DIR: report.html (curves as inline SVG), results.json, results.csv, contact-sheet.png (first image:
rows are shifts, columns clean and severities 1-5).`;

runTask("shift", async (args) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      shifts: { type: "string" },
      seed: { type: "string", default: "0" },
      precision: { type: "string", default: "f32" },
      limit: { type: "string" },
      batch: { type: "string", default: "16" },
      out: { type: "string" },
      template: { type: "string" },
      templates: { type: "string" },
      model: { type: "string", default: "both" },
      ...DEVICE_FLAG,
      ...DTYPE_FLAG,
      json: { type: "boolean", default: false },
      ...MODEL_FLAGS,
    },
    true,
    HELP,
  );
  const shifts = (v.shifts === undefined ? [...SHIFTS] : (v.shifts as string).split(",").map((s) => s.trim())).map(
    (s) => oneOf("--shifts", s, SHIFTS),
  ) as ShiftName[];
  const seed = Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new UsageError(`--seed must be an integer in 0..4294967295, got "${v.seed}"`);
  }
  const precision = oneOf("--precision", v.precision as string, ["f32", "f16"] as const);
  const { device: deviceChoice, dtype } = deviceFlags(v);
  const which = oneOf("--model", v.model as string, ["clip", "resnet", "both"] as const);
  const batch = positiveInt("--batch", v.batch as string)!;
  const limit = positiveInt("--limit", v.limit as string | undefined);
  const files = (await listImages(positionals.length ? positionals : [repoPath("data/samples/photo")], (p, why) =>
    info(`skipped ${p}: ${why}`))).slice(0, limit);
  if (files.length === 0) {
    throw new ClipcmpError(`No JPEG or PNG images in ${positionals.join(", ")}`);
  }
  const labelled = files.map((path) => {
    const cls = classOfImagePath(path);
    if (!cls) {
      throw new ClipcmpError(
        `Image "${path}" has no ImageNet wnid in its name or folder (expected n########_name.jpg or DIR/n########/)`,
      );
    }
    return { path, index: cls.index };
  });
  const templates = await resolveTemplates(v.template as string | undefined, v.templates as string | undefined);
  const out = (v.out as string | undefined) ?? `reports/shift-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  await prepareOutDir(out);
  const chosen = await chooseModelsFor(v, which);
  const { doc, table } = await runShift({
    models: chosen,
    images: labelled,
    shifts,
    seed,
    precision,
    templates,
    batch,
    device: deviceChoice,
    dtype,
    out,
    cacheDir: cacheDirFlag(v),
    log: info,
  });
  for (const line of table) {
    (v.json ? info : console.log)(line);
  }
  if (v.json) {
    console.log(JSON.stringify(doc, null, 2));
  } else console.log(`Report: ${out}/report.html (also results.json, results.csv, contact-sheet.png)`);
  return 0;
});
