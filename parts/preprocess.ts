/**
 * `deno task preprocess`: images through a published recipe into one NumPy `.npy` file [N,3,224,224], so anyone
 * can diff us against Python.
 *
 * @module
 */
import { DEVICE_FLAG, deviceFlags, DTYPE_FLAG } from "../lib/cli/device_flags.ts";
import { info, oneOf, parseFlags, runTask } from "../lib/cli/run.ts";
import { DECODE_FLAGS, decodeOptions } from "../lib/cli/decode_flags.ts";
import { ClipcmpError, UsageError } from "../lib/errors.ts";
import { resolveDevice } from "../lib/device.ts";
import { decodeImageFile, type RgbaImage } from "../lib/image/decode.ts";
import { listImages } from "../lib/image/list.ts";
import { CLIP_RECIPE, TORCHVISION_RECIPE } from "../lib/preprocess/recipe.ts";
import { preprocessToNpy } from "../lib/preprocess/npy.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { prepareOutFile, writeFailure } from "../lib/output.ts";

const DEFAULT_OUT = "out/preprocess.npy";

const HELP = `clipcmp preprocess: images through a published preprocessing recipe into one .npy file

Usage: deno task preprocess IMAGE|DIR ... --for clip|resnet [options]

Writes [N,3,224,224] in input order (directories are listed recursively, sorted).
  --for clip      CLIP: bicubic short side 224, centre-crop 224, CLIP mean/std
  --for resnet    torchvision: bilinear (antialiased) short side 256, centre-crop 224, ImageNet mean/std

Options:
  --out FILE              output .npy (default ${DEFAULT_OUT}, in the folder you run from)
  --dtype fp32|fp16       element type (default fp32)
  --device auto|webgpu|wasm   GPU kernel or CPU path (default auto)
  --alpha drop|white      drop alpha like PIL convert("RGB") (default), or composite onto white
  --exif-orientation ignore|apply   ignore EXIF orientation like PIL (default), or apply it
  -h, --help              this help

Any image that cannot be decoded stops the run (exit 1) and no file is written: a .npy with a row missing
would silently misalign with its inputs. The output location is checked before any image is read.`;

runTask("preprocess", async (args) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      for: { type: "string" },
      out: { type: "string", default: DEFAULT_OUT },
      ...DEVICE_FLAG,
      ...DTYPE_FLAG,
      ...DECODE_FLAGS,
    },
    true,
    HELP,
  );
  if (v.for === undefined) throw new UsageError("--for is required: --for clip or --for resnet");
  const which = oneOf("--for", v.for, ["clip", "resnet"] as const);
  const { device: deviceChoice, dtype } = deviceFlags(v);
  const decode = decodeOptions(v);
  const out = v.out;
  if (!out.endsWith(".npy")) throw new UsageError(`--out must name a .npy file, got "${out}"`);
  if (positionals.length === 0) throw new UsageError("give at least one image or directory");
  await prepareOutFile(out);
  const recipe = which === "clip" ? CLIP_RECIPE : TORCHVISION_RECIPE;

  const files = await listImages(positionals, (p, why) => info(`skipped ${p}: ${why}`));
  if (files.length === 0) throw new ClipcmpError(`No .jpg, .jpeg or .png files in ${positionals.join(", ")}`);
  const images: RgbaImage[] = [];
  for (const f of files) images.push(await decodeImageFile(f, decode));

  const device = await resolveDevice(deviceChoice);
  info(device.reason);
  const shape = [images.length, 3, recipe.crop, recipe.crop];
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await preprocessToNpy(images, recipe, dtype, device.gpu);
  } finally {
    device.gpu?.destroy();
  }
  try {
    await writeFileAtomic(out, bytes);
  } catch (err) {
    throw new ClipcmpError(writeFailure(out, err));
  }
  info(`wrote ${out}: [${shape.join(", ")}] ${dtype === "fp16" ? "float16" : "float32"}, ${recipe.name} recipe`);
  return 0;
});
