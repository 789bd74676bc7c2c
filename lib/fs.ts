/**
 * Small file helpers: hashing, stat, and atomic writes.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ClipcmpError, firstLine } from "./errors.ts";
import { stallPoint } from "./faults.ts";

/**
 * The sha256 of some bytes, as lower-case hex.
 *
 * @example
 * ```ts
 * import { sha256File } from "./fs.ts";
 * const h = await sha256File(new TextEncoder().encode("abc"));
 * if (!h.startsWith("ba7816bf")) throw new Error(h);
 * ```
 * @param bytes The data.
 * @returns The hex digest.
 */
export async function sha256File(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory, then a rename. A kill at any moment
 * leaves either the old file or the new one.
 *
 * @param path The destination.
 * @param data Text or bytes.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array<ArrayBuffer>): Promise<void> {
  const tmp = tempPath(path);
  try {
    await writeData(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** The name of a temp file {@linkcode writeFileAtomic} may leave behind when killed (see `tempPath`). */
export const TEMP_FILE = /\.tmp-\d+-[0-9a-f]{8}$/;

/** A temp name beside `path`, unique to this process and call; {@linkcode TEMP_FILE} matches it. */
export function tempPath(path: string): string {
  return `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

function writeData(path: string, data: string | Uint8Array<ArrayBuffer>): Promise<void> {
  return typeof data === "string" ? Deno.writeTextFile(path, data) : Deno.writeFile(path, data);
}

/**
 * Writes several files as one set: every file to its temp name first, then the renames, back to back (a kill
 * before the renames leaves the previous set whole).
 *
 * @param files Destination paths and contents.
 */
export async function writeFilesAtomic(files: [string, string | Uint8Array<ArrayBuffer>][]): Promise<void> {
  const tmps: string[] = [];
  try {
    for (const [path, data] of files) {
      const tmp = tempPath(path);
      tmps.push(tmp);
      await writeData(tmp, data);
    }
    await stallPoint("write-set-before-rename");
    for (let i = 0; i < files.length; i++) await Deno.rename(tmps[i]!, files[i]![0]);
  } catch (err) {
    for (const t of tmps) await Deno.remove(t).catch(() => {});
    throw err;
  }
}

/**
 * Writes a cache artefact with its checksum: the file atomically, then `<path>.sha256` atomically. A kill between
 * the two leaves a file without a checksum, which {@linkcode verifiedFile} treats as missing.
 *
 * @param path The destination.
 * @param data The bytes.
 */
export async function writeVerified(path: string, data: Uint8Array<ArrayBuffer>): Promise<void> {
  await writeFileAtomic(path, data);
  await writeFileAtomic(`${path}.sha256`, `${await sha256File(data)}\n`);
}

/**
 * Reads a cache artefact written by {@linkcode writeVerified}, if it is there and matches its checksum.
 *
 * @example
 * ```ts ignore
 * const bytes = await verifiedFile(`${cache}/fp16/abc.onnx`); // null: absent, truncated or altered
 * ```
 * @param path The file.
 * @returns Its bytes, `null` when it is missing or `"corrupt"` when it fails its checksum.
 */
export async function verifiedFile(path: string): Promise<Uint8Array<ArrayBuffer> | null | "corrupt"> {
  let bytes: Uint8Array<ArrayBuffer>;
  let want: string;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  try {
    want = (await Deno.readTextFile(`${path}.sha256`)).trim();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return "corrupt";
    throw err;
  }
  return (await sha256File(bytes)) === want ? bytes : "corrupt";
}

/**
 * The sha256 and size of a file, streamed (for files too large to hold twice, such as model weights).
 *
 * @param path The file.
 * @returns Hex digest and byte count.
 */
export async function sha256OfPath(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  using file = await Deno.open(path);
  for await (const chunk of file.readable) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest("hex"), size };
}

/**
 * `Deno.stat`, with `null` for a path that does not exist and a one-line error naming the path otherwise.
 *
 * @param path The path.
 * @returns Its info, or null.
 */
export async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new ClipcmpError(`Cannot read "${path}": ${firstLine(err)}`);
  }
}
