/**
 * The compare task's core, for the CLI (`deno task compare`) and scripts alike: resolves the device, switches the
 * models to fp16 when asked (after the self-test), loads them, scores every domain on one label set
 * ({@linkcode compareModels}) and writes the report.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";
import type { Engine } from "../ort/session.ts";
import { type DeviceChoice, resolveDevice } from "../device.ts";
import { ClipModel } from "../models/clip.ts";
import { ResnetModel } from "../models/resnet.ts";
import { type LoadedMore, loadMoreModels } from "../models/more.ts";
import { checkAgainstManifest, type ChosenModels, switchToFp16 } from "../models/resolve.ts";
import { classOfPath, type CompareDocument, compareModels, type DomainInput } from "../compare.ts";
import { imagenetClasses } from "../data/imagenet.ts";
import type { DecodeOptions } from "../image/decode.ts";
import { writeReport } from "../report/write.ts";
import { writeFailure } from "../output.ts";

/** What to compare, with what, and where the report goes. */
export interface CompareTaskOptions {
  models: ChosenModels;
  domains: DomainInput[];
  templates: readonly string[];
  device: DeviceChoice;
  /** The engine that runs the models (default `ort`). */
  engine?: Engine;
  dtype: "fp32" | "fp16";
  decode?: DecodeOptions;
  /** The report directory (checked writable already), or null for no report. */
  reportDir: string | null;
  cacheDir: string;
  /** Stops after the current chunk; what finished is kept and reported. */
  signal?: AbortSignal;
  /** Names of the classes outside ImageNet that class-name domains use (ids from 1000 up). */
  classNames?: ReadonlyMap<number, string>;
  log: (line: string) => void;
}

/**
 * Runs the comparison and writes the report of what was scored (also when interrupted or stopped by an error
 * after some images: `doc.incomplete` says why). Nothing is written when nothing was scored.
 *
 * @param opts What to compare, with what.
 * @returns The document.
 */
export async function runCompare(opts: CompareTaskOptions): Promise<CompareDocument> {
  const { models: chosen, domains, log, reportDir, dtype } = opts;
  const device = await resolveDevice(opts.device, opts.engine);
  log(device.reason);
  let clip: ClipModel | undefined;
  let resnet: ResnetModel | undefined;
  const more = { clip: [] as LoadedMore<ClipModel>[], resnet: [] as LoadedMore<ResnetModel>[] };
  try {
    if (dtype === "fp16") {
      // Convert, then trust fp16 only after it agrees with fp32 on the first images of the run.
      const classed = domains.flatMap((d) =>
        d.paths.flatMap((p) => {
          const id = d.classes?.get(p) ?? classOfPath(p)?.index;
          return id === undefined ? [] : [{ p, id }];
        })
      );
      const paths = classed.map((x) => x.p);
      const labels = [...new Set(classed.map((x) => x.id))].map((i) =>
        imagenetClasses()[i]?.clip ?? opts.classNames?.get(i) ?? `class ${i}`
      );
      await switchToFp16(chosen, paths, labels, { cacheDir: opts.cacheDir, device, log }, opts.decode);
    }
    clip = chosen.clip ? await ClipModel.load(chosen.clip.dir, { ...device, log }) : undefined;
    resnet = chosen.resnet ? await ResnetModel.load(chosen.resnet.source, { ...device, log }) : undefined;
    checkAgainstManifest(chosen, clip, resnet);
    await loadMoreModels(chosen, { ...device, log }, more);
    const { doc, thumbnails } = await compareModels({
      domains,
      clip,
      resnet,
      names: { clip: chosen.clip?.name, resnet: chosen.resnet?.name },
      more,
      classNames: opts.classNames,
      signal: opts.signal,
      device,
      templates: opts.templates,
      decode: opts.decode,
      thumbnails: reportDir ? 80 : 0,
      headCache: { dir: opts.cacheDir, log },
      dtype,
      log,
    });
    if (reportDir && doc.summary.n > 0) {
      try {
        await writeReport(reportDir, doc, thumbnails);
      } catch (err) {
        throw new ClipcmpError(writeFailure(reportDir, err));
      }
      log(`report written to ${reportDir}`);
    }
    return doc;
  } finally {
    await clip?.release();
    await resnet?.release();
    for (const m of [...more.clip, ...more.resnet]) await m.model.release();
    device.gpu?.destroy();
  }
}
