/**
 * Extracts a ZIP archive (stored or deflated entries) with no dependency: the central directory gives each
 * entry's name, method and sizes; deflate data is inflated with `DecompressionStream("deflate-raw")`.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";
import { writeFileAtomic } from "../fs.ts";

/** The most a model archive may unpack to, in all (the real bundles are about 100 MB). */
export const MAX_UNZIPPED_BYTES = 4 * 1024 ** 3;

/**
 * Inflates a deflate stream into at most `declared` bytes: the output buffer is the declared size, and one byte
 * more stops the stream, so a bomb never holds more memory than its entry admits to.
 */
async function inflateCapped(
  data: Uint8Array,
  declared: number,
  zipPath: string,
  name: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(declared);
  let n = 0;
  const reader = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("deflate-raw"),
  ).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (n + value.length > declared) {
        await reader.cancel().catch(() => {});
        throw new ClipcmpError(
          `"${zipPath}": entry "${name}" inflates past its declared ${declared} bytes; refusing (zip bomb?)`,
        );
      }
      out.set(value, n);
      n += value.length;
    }
  } catch (err) {
    if (err instanceof ClipcmpError) throw err;
    throw new ClipcmpError(
      `"${zipPath}": entry "${name}" is corrupt (${err instanceof Error ? err.message.split("\n")[0] : err})`,
    );
  }
  return n === declared ? out : out.slice(0, n);
}

/**
 * Extracts every file of `zipPath` under `destDir`, refusing paths that escape it.
 *
 * @param zipPath The archive.
 * @param destDir Where to extract.
 * @param maxTotalBytes The most all entries may declare uncompressed, together.
 * @returns The extracted files' paths.
 */
export async function unzip(
  zipPath: string,
  destDir: string,
  maxTotalBytes: number = MAX_UNZIPPED_BYTES,
): Promise<string[]> {
  const buf = await Deno.readFile(zipPath);
  let total = 0;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ClipcmpError(`"${zipPath}" is not a ZIP archive (no end of central directory)`);
  const count = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  const out: string[] = [];
  for (let e = 0; e < count; e++) {
    if (view.getUint32(p, true) !== 0x02014b50) throw new ClipcmpError(`"${zipPath}": corrupt central directory`);
    const method = view.getUint16(p + 10, true);
    const csize = view.getUint32(p + 20, true);
    const usize = view.getUint32(p + 24, true);
    const nlen = view.getUint16(p + 28, true);
    const xlen = view.getUint16(p + 30, true);
    const clen = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nlen));
    p += 46 + nlen + xlen + clen;
    if (name.endsWith("/")) continue;
    if (name.startsWith("/") || name.split("/").includes("..")) {
      throw new ClipcmpError(`"${zipPath}": unsafe entry name "${name}"`);
    }
    if (csize === 0xffffffff || usize === 0xffffffff) {
      throw new ClipcmpError(`"${zipPath}": ZIP64 entries are not supported`);
    }
    if (local + 30 > buf.length || view.getUint32(local, true) !== 0x04034b50) {
      throw new ClipcmpError(`"${zipPath}": entry "${name}" points outside the archive (offset ${local}); corrupt ZIP`);
    }
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + csize > buf.length) {
      throw new ClipcmpError(`"${zipPath}": entry "${name}" runs past the end of the archive; truncated download?`);
    }
    total += usize;
    if (total > maxTotalBytes) {
      throw new ClipcmpError(
        `"${zipPath}": the entries declare more than ${maxTotalBytes} bytes uncompressed in all; refusing (zip bomb?)`,
      );
    }
    const data = buf.subarray(start, start + csize);
    let bytes: Uint8Array<ArrayBuffer>;
    if (method === 0) bytes = data.slice();
    else if (method === 8) bytes = await inflateCapped(data, usize, zipPath, name);
    else throw new ClipcmpError(`"${zipPath}": entry "${name}" uses unsupported compression method ${method}`);
    if (bytes.length !== usize) {
      throw new ClipcmpError(`"${zipPath}": entry "${name}" is corrupt (size ${bytes.length}, expected ${usize})`);
    }
    const target = `${destDir}/${name}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await writeFileAtomic(target, bytes);
    out.push(target);
  }
  return out;
}
