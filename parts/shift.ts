/**
 * `deno task shift`: renders distribution shifts on the GPU (7 shifts x 5 severities), scores CLIP (zero-shot) and
 * the ResNet on every severity over the same 1000 ImageNet classes, and writes robustness curves.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG, ENGINE_FLAG } from "../lib/cli/device_flags.ts";
import { info, oneOf, parseFlags, positiveInt, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { cacheDirFlag, chooseModelsFor, MODEL_FLAGS } from "../lib/cli/models.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { listImages } from "../lib/image/list.ts";
import { classOfImagePath } from "../lib/data/imagenet.ts";
import { type ShiftName, SHIFTS } from "../lib/shift/params.ts";
import { defaultOutDir, prepareOutDir } from "../lib/output.ts";
import { repoPath } from "../lib/data/paths.ts";
import { runShift } from "../lib/tasks/shift.ts";
import { SHIFT_HELP } from "../lib/cli/help.ts";

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
      ...ENGINE_FLAG,
      ...DTYPE_FLAG,
      json: { type: "boolean", default: false },
      ...MODEL_FLAGS,
    },
    true,
    SHIFT_HELP,
  );
  const shifts = (v.shifts === undefined ? [...SHIFTS] : v.shifts.split(",").map((s) => s.trim())).map(
    (s) => oneOf("--shifts", s, SHIFTS),
  ) as ShiftName[];
  const seed = Number(v.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new UsageError(`--seed must be an integer in 0..4294967295, got "${v.seed}"`);
  }
  const precision = oneOf("--precision", v.precision, ["f32", "f16"] as const);
  const { device: deviceChoice, engine, dtype } = deviceFlags(v);
  const which = oneOf("--model", v.model, ["clip", "resnet", "both"] as const);
  const batch = positiveInt("--batch", v.batch)!;
  const limit = positiveInt("--limit", v.limit);
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
  const templates = await resolveTemplates(v.template, v.templates);
  const out = v.out ?? defaultOutDir("shift");
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
    engine,
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
