/**
 * `deno task fp16` (part 5): FP16 vs FP32, measured honestly: latency percentiles with warm-up apart and GPU
 * timestamps where the adapter has them, throughput with data kept on the GPU, peak GPU memory from buffer
 * accounting, and agreement on the sample images. fp16 runs only after a self-test passes.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, ENGINE_FLAG } from "../lib/cli/device_flags.ts";
import { info, oneOf, parseFlags, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { repoPath } from "../lib/data/paths.ts";
import { cacheDirFlag, chooseModels, MODEL_FLAGS } from "../lib/cli/models.ts";
import { decodeImageFile } from "../lib/image/decode.ts";
import { listImages } from "../lib/image/list.ts";
import { MIN_RUNS, MIN_RUNS_P95 } from "../lib/fp16_bench.ts";
import { classFromFileName } from "../lib/data/imagenet.ts";
import { runFp16 } from "../lib/tasks/fp16.ts";
import { printFp16 } from "../lib/cli/fp16_text.ts";
import { FP16_HELP } from "../lib/cli/help.ts";

runTask("fp16", async (args) => {
  const { values: v } = parseFlags(
    args,
    {
      model: { type: "string", default: "both" },
      batch: { type: "string", default: "1,8,32,128" },
      runs: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      ...DEVICE_FLAG,
      ...ENGINE_FLAG,
      images: { type: "string" },
      ...MODEL_FLAGS,
      json: { type: "boolean", default: false },
    },
    false,
    FP16_HELP,
  );
  const which = oneOf("--model", v.model, ["clip", "resnet", "both"] as const);
  const batches = v.batch.split(",").map((s) => Number(s.trim()));
  if (batches.some((b) => !Number.isInteger(b) || b < 1 || b > 1024)) {
    throw new UsageError(`--batch must list integers from 1 to 1024, got "${v.batch}"`);
  }
  const runs = Number(v.runs), warmup = Number(v.warmup);
  if (!Number.isInteger(runs) || runs < MIN_RUNS) {
    throw new UsageError(
      `--runs must be an integer of at least ${MIN_RUNS} (${MIN_RUNS_P95} for a p95), got "${v.runs}"`,
    );
  }
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new UsageError(`--warmup must be a non-negative integer, got "${v.warmup}"`);
  }
  const { device: deviceChoice, engine } = deviceFlags(v);
  const chosen = await chooseModels(v, { clip: which !== "resnet", resnet: which !== "clip" });
  const imageDir = v.images ?? repoPath("data/samples/photo");
  const files = (await listImages([imageDir])).flatMap((path) => {
    const cls = classFromFileName(path.split("/").pop()!);
    return cls ? [{ path, index: cls.index }] : [];
  });
  if (files.length < 2) throw new ClipcmpError(`--images "${imageDir}" needs at least 2 images named by WordNet id`);
  const images = await Promise.all(files.map(async (f) => ({ ...f, image: await decodeImageFile(f.path) })));
  const doc = await runFp16({
    models: chosen,
    images,
    batches,
    runs,
    warmup,
    device: deviceChoice,
    engine,
    cacheDir: cacheDirFlag(v),
    log: info,
  });
  if (v.json) {
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  printFp16(doc);
  return 0;
});
