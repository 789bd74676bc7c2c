/**
 * ONNX models whose initializers live outside the `.onnx` file (`data_location = EXTERNAL`, with `location`,
 * `offset` and `length` in `external_data`), as Qualcomm AI Hub's bundles store them (`model.onnx` beside
 * `model.data`). {@linkcode readOnnx} reads such a model with its data files and inlines the data as
 * `raw_data`, so every later step (the session, the fp16 conversion, the batch rewrite, parameter counting) sees
 * one self-contained model, as `onnx.load` does by default.
 *
 * A data location must be a relative path inside the model's directory; offsets and lengths are checked against
 * the data file. Each problem is one line naming the file.
 *
 * @module
 */
import { ClipcmpError, firstLine } from "../errors.ts";
import { encodeFields, type OutField, readFields } from "./proto.ts";

const dec = new TextDecoder();

function externalOf(tensor: Uint8Array): Map<string, string> | null {
  const fields = readFields(tensor);
  if (!fields.some((f) => f.field === 14 && f.value === 1)) return null;
  const kv = new Map<string, string>();
  for (const f of fields) {
    if (f.field !== 13 || !f.bytes) continue;
    const e = readFields(f.bytes);
    kv.set(dec.decode(e.find((x) => x.field === 1)?.bytes), dec.decode(e.find((x) => x.field === 2)?.bytes));
  }
  return kv;
}

/**
 * Whether a model stores any initializer externally.
 *
 * @param model The `.onnx` bytes.
 * @returns True when some initializer has `data_location = EXTERNAL`.
 */
export function hasExternalData(model: Uint8Array): boolean {
  const graph = readFields(model).find((f) => f.field === 7 && f.wire === 2)?.bytes;
  if (!graph) return false;
  return readFields(graph).some((f) => f.field === 5 && f.bytes && externalOf(f.bytes) !== null);
}

/**
 * Inlines external initializer data.
 *
 * @param model The `.onnx` bytes.
 * @param path The model file (data locations are relative to its directory).
 * @param readData Reads a data file (injectable for tests).
 * @returns A self-contained model (the input itself when nothing is external).
 */
export async function inlineExternalData(
  model: Uint8Array,
  path: string,
  readData: (p: string) => Promise<Uint8Array> = (p) => Deno.readFile(p),
): Promise<Uint8Array> {
  const top = readFields(model);
  const gi = top.findIndex((f) => f.field === 7 && f.wire === 2);
  if (gi < 0 || !hasExternalData(model)) return model;
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  const files = new Map<string, Uint8Array>();
  const graphFields: OutField[] = [];
  for (const f of readFields(top[gi]!.bytes!)) {
    const ext = f.field === 5 && f.bytes ? externalOf(f.bytes) : null;
    if (!ext) {
      graphFields.push(f);
      continue;
    }
    const fields = readFields(f.bytes!);
    const name = dec.decode(fields.find((x) => x.field === 8)?.bytes);
    const loc = ext.get("location") ?? "";
    if (!loc || loc.startsWith("/") || loc.split(/[\\/]/).includes("..")) {
      throw new ClipcmpError(
        `Model "${path}": initializer "${name}" has external data at "${loc}", outside its directory`,
      );
    }
    const file = `${dir}/${loc}`;
    if (!files.has(file)) {
      try {
        files.set(file, await readData(file));
      } catch (err) {
        const why = err instanceof Deno.errors.NotFound ? "file not found" : firstLine(err);
        throw new ClipcmpError(`Model "${path}" keeps its weights in "${file}", which cannot be read: ${why}`);
      }
    }
    const data = files.get(file)!;
    const offset = Number(ext.get("offset") ?? 0);
    const length = ext.has("length") ? Number(ext.get("length")) : data.length - offset;
    if (
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
      offset + length > data.length
    ) {
      throw new ClipcmpError(
        `"${file}" is too short for initializer "${name}" of "${path}" (bytes ${offset}..${
          offset + length
        } of ${data.length}); the download may be truncated`,
      );
    }
    const kept: OutField[] = fields.filter((x) => x.field !== 13 && x.field !== 14 && x.field !== 9);
    kept.push({ field: 9, bytes: data.subarray(offset, offset + length) });
    graphFields.push({ field: 5, bytes: encodeFields(kept) });
  }
  const out: OutField[] = top.map((f, i) => (i === gi ? { field: 7, bytes: encodeFields(graphFields) } : f));
  return encodeFields(out);
}

/**
 * Reads an `.onnx` file, with its external data inlined when it has any.
 *
 * @example
 * ```ts ignore
 * const bytes = await readOnnx("ResNet50_float.onnx/model.onnx"); // reads model.data beside it too
 * ```
 * @param path The model file.
 * @returns The self-contained model bytes.
 */
export async function readOnnx(path: string): Promise<Uint8Array<ArrayBuffer>> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new ClipcmpError(`Cannot read model "${path}": file not found`);
    if (err instanceof Deno.errors.IsADirectory) throw new ClipcmpError(`Cannot read model "${path}": is a directory`);
    throw new ClipcmpError(`Cannot read model "${path}": ${firstLine(err)}`);
  }
  let external = false;
  try {
    external = hasExternalData(bytes);
  } catch {
    return bytes; // not a protobuf we can walk: let the runtime give its own error
  }
  return external ? (await inlineExternalData(bytes, path)) as Uint8Array<ArrayBuffer> : bytes;
}
