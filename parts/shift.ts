/**
 * `deno task shift`: renders distribution shifts on the GPU (7 shifts x 5 severities), scores CLIP (zero-shot) and
 * the ResNet on every severity over the same 1000 ImageNet classes, and writes robustness curves.
 *
 * @module
 */
import { docHeader, runPlace } from "../lib/envelope.ts";
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { csvRow } from "../lib/report/escape.ts";
import { info, oneOf, parseFlags, positiveInt, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { resolveDevice } from "../lib/device.ts";
import {
  cacheDirFlag,
  checkAgainstManifest,
  chooseModelsFor,
  MODEL_FLAGS,
  MODEL_HELP,
  switchToFp16,
} from "../lib/cli/models.ts";
import { resolveTemplates } from "../lib/cli/templates.ts";
import { CLIP_LOGIT_SCALE, ClipModel } from "../lib/models/clip.ts";
import { ResnetModel } from "../lib/models/resnet.ts";
import type { RgbaImage } from "../lib/image/decode.ts";
import { DecodePool } from "../lib/image/pool.ts";
import { listImages } from "../lib/image/list.ts";
import { encodePng } from "../lib/image/png.ts";
import { classByWnid, classFromFileName, imagenetClasses } from "../lib/data/imagenet.ts";
import { buildHead } from "../lib/zeroshot.ts";
import { classTopK, finiteOrThrow, releaseRows, zeroShotTopK } from "../lib/scoring.ts";
import { requestGpu } from "../lib/gpu/context.ts";
import { shiftRenderer } from "../lib/shift/render.ts";
import { type ShiftName, SHIFTS } from "../lib/shift/params.ts";
import { contactSheet, shiftHtml, type ShiftRow } from "../lib/shift/report.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { prepareOutDir } from "../lib/output.ts";
import { repoPath } from "../lib/data/paths.ts";
import { VERSION } from "../lib/version.ts";

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
    const parent = path.split("/").at(-2) ?? "";
    const cls = classFromFileName(path) ?? classByWnid(parent);
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
  const device = await resolveDevice(deviceChoice);
  info(device.reason);
  const shiftGpu = device.gpu ?? (await requestGpu());
  const renderer = shiftRenderer(shiftGpu, precision);
  const shiftAdapter = shiftGpu!;
  if (dtype === "fp16") {
    const labels = [
      ...new Set(labelled.map((l) =>
        l.index
      )),
    ].map((i) =>
      imagenetClasses()[i]!.clip
    );
    await switchToFp16(chosen, files, labels, {
      cacheDir: cacheDirFlag(v),
      device,
      log: info,
    });
  }
  const clip = chosen.clip ? await ClipModel.load(chosen.clip.dir, { ...device, log: info }) : undefined;
  const resnet = chosen.resnet ? await ResnetModel.load(chosen.resnet.source, { ...device, log: info }) : undefined;
  checkAgainstManifest(chosen, clip, resnet);
  const gpu = device.gpu ? { device: device.gpu.device } : undefined;
  const classes = imagenetClasses();
  const conditions: [ShiftName | "clean", number][] = [
    ["clean", 0],
    ...shifts.flatMap((s) => [1, 2, 3, 4, 5].map((sev) => [s, sev] as [ShiftName, number])),
  ];
  /** Top-1 and top-5 hits per condition ("shift/severity") and model. */
  const hits = new Map<string, Record<string, [number, number]>>();
  const sheet = new Map<ShiftName, RgbaImage[]>();
  let clean: RgbaImage | undefined;
  let scored = 0;
  const pool = new DecodePool();
  try {
    const head = clip
      ? await buildHead(clip, classes.map((c) => c.clip), templates, undefined, {
        dir: cacheDirFlag(v),
        log: info,
      })
      : null;
    /** Adds the top-1/top-5 hits of `imgs` (true classes `truth`) to `into`. */
    const score = async (
      imgs: RgbaImage[],
      truth: number[],
      into: Record<string, [number, number]>,
      paths: readonly string[] = [],
    ) => {
      const count = (model: string, idx: Uint32Array) => {
        const h = (into[model] ??= [0, 0]);
        truth.forEach((t, j) => {
          const top = Array.from(idx.subarray(j * 5, j * 5 + 5));
          if (top[0] === t) h[0]++;
          if (top.includes(t)) h[1]++;
        });
      };
      if (clip && head) {
        const emb = await clip.encodeImages(imgs);
        const top = zeroShotTopK(emb, head.rows, CLIP_LOGIT_SCALE, 5, gpu);
        count("clip", (await finiteOrThrow(clip.visual.session.path, paths, top)).indices);
        releaseRows(emb);
      }
      if (resnet) {
        const logits = await resnet.logits(imgs);
        const top = classTopK(logits, undefined, 5, gpu);
        count("resnet", (await finiteOrThrow(resnet.graph.session.path, paths, top)).indices);
        releaseRows(logits);
      }
    };
    // Images stream through in chunks (decoded on worker threads, one chunk ahead), so memory stays bounded and
    // each image is decoded once for all shifts and severities.
    const chunks: (typeof labelled)[] = [];
    for (let i = 0; i < labelled.length; i += batch) chunks.push(labelled.slice(i, i + batch));
    const decode = (c: typeof labelled) => Promise.allSettled(c.map((f) => pool.decode(f.path)));
    let next = chunks.length ? decode(chunks[0]!) : undefined;
    const t0 = performance.now();
    for (let ci = 0; ci < chunks.length; ci++) {
      const settled = await next!;
      next = ci + 1 < chunks.length ? decode(chunks[ci + 1]!) : undefined;
      const imgs: RgbaImage[] = [];
      const truth: number[] = [];
      const paths: string[] = [];
      settled.forEach((r, j) => {
        if (r.status === "fulfilled") {
          imgs.push(r.value);
          truth.push(chunks[ci]![j]!.index);
          paths.push(chunks[ci]![j]!.path);
        } else info(`skipped ${chunks[ci]![j]!.path}: ${(r.reason as Error).message}`);
      });
      if (imgs.length === 0) continue;
      const firstSeed = ci * batch;
      for (const [shift, severity] of conditions) {
        const rendered = shift === "clean" ? imgs : await renderer.render(imgs, shift, severity, seed, firstSeed);
        if (clean === undefined) clean = imgs[0]!;
        if (shift !== "clean" && rendered[0] && !sheet.get(shift)?.[severity]) {
          if (!sheet.has(shift)) sheet.set(shift, [clean]);
          sheet.get(shift)![severity] = rendered[0];
        }
        const key = `${shift}/${severity}`;
        if (!hits.has(key)) hits.set(key, {});
        await score(rendered, truth, hits.get(key)!, paths.map((p) => `${p} under ${key}`));
      }
      scored += imgs.length;
      const rate = scored * conditions.length / ((performance.now() - t0) / 1000);
      info(`${scored}/${labelled.length} images x ${conditions.length} conditions, ${rate.toFixed(1)} renders/s`);
    }
    if (head) releaseRows(head.rows);
  } finally {
    pool.close();
    renderer.release();
    await clip?.release();
    await resnet?.release();
    device.gpu?.destroy();
    if (shiftAdapter !== device.gpu) shiftAdapter.destroy();
  }
  if (scored === 0 || !clean) throw new ClipcmpError("No image could be decoded; nothing was scored");
  const rows: ShiftRow[] = [];
  for (const [shift, severity] of conditions) {
    const byModel = hits.get(`${shift}/${severity}`) ?? {};
    for (const [model, [t1, t5]] of Object.entries(byModel)) {
      rows.push({ shift, severity, model, n: scored, top1: t1 / scored, top5: t5 / scored });
    }
    const cells = Object.entries(byModel).map(([m, [t1, t5]]) =>
      `${m} ${(100 * t1 / scored).toFixed(1)}% / ${(100 * t5 / scored).toFixed(1)}%`
    );
    (v.json ? info : console.log)(
      `${shift}${shift === "clean" ? "" : ` ${severity}`}: top-1 / top-5 ${cells.join(", ")}`,
    );
  }
  const grid = shifts.map((s) => sheet.get(s) ?? [clean!]);
  await writeFileAtomic(`${out}/contact-sheet.png`, await encodePng(contactSheet(grid, 160)));
  const meta = [
    `${scored} image(s); models: ${
      [clip ? `CLIP ${chosen.clip!.dir}` : "", resnet ? `ResNet ${chosen.resnet!.source.model}` : ""]
        .filter(Boolean).join(", ")
    }; 1000 ImageNet classes for both`,
    `shift kernels in ${precision} on ${shiftAdapter.summary.name}; seed ${seed}; clipcmp ${VERSION}`,
  ];
  const doc = {
    ...docHeader("shift"),
    provenance: {
      ...runPlace(device),
      shift_adapter: shiftAdapter.summary.name,
      dtype,
      models: {
        clip: chosen.clip ? { name: chosen.clip.name, dir: chosen.clip.dir } : null,
        resnet: chosen.resnet ? { name: chosen.resnet.name, path: chosen.resnet.source.model } : null,
      },
      templates: clip ? [...templates] : [],
    },
    seed,
    precision,
    n: scored,
    rows,
  };
  await writeFileAtomic(`${out}/results.json`, JSON.stringify(doc, null, 2) + "\n");
  await writeFileAtomic(
    `${out}/results.csv`,
    "shift,severity,model,n,top1,top5\n" +
      rows.map((r) => csvRow([r.shift, r.severity, r.model, r.n, (100 * r.top1).toFixed(2), (100 * r.top5).toFixed(2)]))
        .join("\n") +
      "\n",
  );
  await writeFileAtomic(`${out}/report.html`, shiftHtml(rows, meta));
  if (v.json) console.log(JSON.stringify(doc, null, 2));
  else console.log(`Report: ${out}/report.html (also results.json, results.csv, contact-sheet.png)`);
  return 0;
});
