/**
 * The shift task's core, for the CLI (`deno task shift`) and scripts alike: renders each shift at severities 1-5
 * with the WGSL kernels, scores CLIP and the ResNet over the same 1000 classes at each, and writes the report
 * (report.html, results.json, results.csv, contact-sheet.png) into `out`.
 *
 * @module
 */
import { docHeader, runPlace } from "../envelope.ts";
import { csvRow } from "../report/escape.ts";
import { ClipcmpError } from "../errors.ts";
import type { Engine } from "../ort/session.ts";
import { type DeviceChoice, resolveDevice } from "../device.ts";
import { CLIP_LOGIT_SCALE, ClipModel } from "../models/clip.ts";
import { ResnetModel } from "../models/resnet.ts";
import { checkAgainstManifest, type ChosenModels, switchToFp16 } from "../models/resolve.ts";
import type { RgbaImage } from "../image/decode.ts";
import { DecodePool } from "../image/pool.ts";
import { encodePng } from "../image/png.ts";
import { imagenetClasses } from "../data/imagenet.ts";
import { buildHead } from "../zeroshot.ts";
import { classTopK, finiteOrThrow, releaseRows, zeroShotTopK } from "../scoring.ts";
import { requestGpu } from "../gpu/context.ts";
import type { GpuShift } from "../../kernels/shift.ts";
import { shiftRenderer } from "../shift/render.ts";
import type { ShiftName } from "../shift/params.ts";
import { contactSheet, SHEET_PAD, shiftAucs, shiftHtml, type ShiftRow } from "../shift/report.ts";
import { encodeBase64 } from "../base64.ts";

/** The contact sheet's cell size in pixels. */
const SHEET_CELL = 160;
import { writeFileAtomic } from "../fs.ts";
import { VERSION } from "../version.ts";

/** What to render and score, with what. */
export interface ShiftOptions {
  models: ChosenModels;
  /** The images with their true ImageNet class. */
  images: readonly { path: string; index: number }[];
  shifts: readonly ShiftName[];
  seed: number;
  /** Arithmetic of the shift kernels. */
  precision: "f32" | "f16";
  templates: readonly string[];
  batch: number;
  device: DeviceChoice;
  /** The engine that runs the models (default `ort`). */
  engine?: Engine;
  dtype: "fp32" | "fp16";
  /** The report directory (checked writable already). */
  out: string;
  cacheDir: string;
  log: (line: string) => void;
}

/** What a shift run returns: its document (as results.json) and one summary line per condition. */
export interface ShiftOutcome {
  doc: Record<string, unknown>;
  table: string[];
}

/**
 * Renders, scores and writes the report.
 *
 * @param opts What to render and score, with what.
 * @returns The document and the summary lines.
 */
export async function runShift(opts: ShiftOptions): Promise<ShiftOutcome> {
  const { log, shifts, seed, precision, templates, batch, dtype, out } = opts;
  const chosen = opts.models;
  const labelled = opts.images;
  const table: string[] = [];
  const device = await resolveDevice(opts.device, opts.engine);
  log(device.reason);
  const shiftGpu = device.gpu ?? (await requestGpu());
  let renderer: GpuShift | undefined;
  let clip: ClipModel | undefined;
  let resnet: ResnetModel | undefined;
  const pool = new DecodePool();
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
  try {
    renderer = shiftRenderer(shiftGpu, precision);
    if (dtype === "fp16") {
      const labels = [...new Set(labelled.map((l) => l.index))].map((i) => imagenetClasses()[i]!.clip);
      await switchToFp16(chosen, labelled.map((l) => l.path), labels, { cacheDir: opts.cacheDir, device, log });
    }
    clip = chosen.clip ? await ClipModel.load(chosen.clip.dir, { ...device, log }) : undefined;
    resnet = chosen.resnet ? await ResnetModel.load(chosen.resnet.source, { ...device, log }) : undefined;
    checkAgainstManifest(chosen, clip, resnet);
    const head = clip
      ? await buildHead(clip, classes.map((c) => c.clip), templates, undefined, {
        dir: opts.cacheDir,
        log,
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
        const top = zeroShotTopK(emb, head.rows, CLIP_LOGIT_SCALE, 5);
        count("clip", (await finiteOrThrow(clip.visual.session.path, paths, top)).indices);
        releaseRows(emb);
      }
      if (resnet) {
        const logits = await resnet.logits(imgs);
        const top = classTopK(logits, undefined, 5);
        count("resnet", (await finiteOrThrow(resnet.graph.session.path, paths, top)).indices);
        releaseRows(logits);
      }
    };
    // Images stream through in chunks (decoded on worker threads, one chunk ahead), so memory stays bounded and
    // each image is decoded once for all shifts and severities.
    const chunks: (typeof labelled[number])[][] = [];
    for (let i = 0; i < labelled.length; i += batch) chunks.push(labelled.slice(i, i + batch));
    const decode = (c: readonly (typeof labelled[number])[]) => Promise.allSettled(c.map((f) => pool.decode(f.path)));
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
        } else log(`skipped ${chunks[ci]![j]!.path}: ${(r.reason as Error).message}`);
      });
      if (imgs.length === 0) continue;
      const firstSeed = ci * batch;
      for (const [shift, severity] of conditions) {
        const rendered = shift === "clean" ? imgs : await renderer!.render(imgs, shift, severity, seed, firstSeed);
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
      log(`${scored}/${labelled.length} images x ${conditions.length} conditions, ${rate.toFixed(1)} renders/s`);
    }
    if (head) releaseRows(head.rows);
  } finally {
    pool.close();
    renderer?.release();
    await clip?.release();
    await resnet?.release();
    device.gpu?.destroy();
    if (shiftGpu && shiftGpu !== device.gpu) shiftGpu.destroy();
  }
  const shiftAdapter = shiftGpu!;
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
    table.push(
      `${shift}${shift === "clean" ? "" : ` ${severity}`}: top-1 / top-5 ${cells.join(", ")}`,
    );
  }
  const grid = shifts.map((s) => sheet.get(s) ?? [clean!]);
  const sheetImage = contactSheet(grid, SHEET_CELL);
  const sheetPng = await encodePng(sheetImage);
  await writeFileAtomic(`${out}/contact-sheet.png`, sheetPng);
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
    auc: shiftAucs(rows),
  };
  await writeFileAtomic(`${out}/results.json`, JSON.stringify(doc, null, 2) + "\n");
  await writeFileAtomic(
    `${out}/results.csv`,
    "shift,severity,model,n,top1,top5\n" +
      rows.map((r) => csvRow([r.shift, r.severity, r.model, r.n, (100 * r.top1).toFixed(2), (100 * r.top5).toFixed(2)]))
        .join("\n") +
      "\n",
  );
  await writeFileAtomic(
    `${out}/report.html`,
    shiftHtml(rows, meta, {
      dataUri: `data:image/png;base64,${encodeBase64(sheetPng)}`,
      width: sheetImage.width,
      height: sheetImage.height,
      cell: SHEET_CELL,
      pad: SHEET_PAD,
      rows: [...shifts],
    }),
  );
  return { doc, table };
}
