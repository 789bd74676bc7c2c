/**
 * Extracts a ZIP archive (stored or deflated entries) with no dependency: the central directory gives each
 * entry's name, method and sizes; deflate data is inflated with `DecompressionStream("deflate-raw")`.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";
import { writeFileAtomic } from "../fs.ts";

/**
 * Extracts every file of `zipPath` under `destDir`, refusing paths that escape it.
 *
 * @param zipPath The archive.
 * @param destDir Where to extract.
 * @returns The extracted files' paths.
 */
export async function unzip(zipPath: string, destDir: string): Promise<string[]> {
  const buf = await Deno.readFile(zipPath);
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
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    const data = buf.subarray(start, start + csize);
    let bytes: Uint8Array<ArrayBuffer>;
    if (method === 0) bytes = data.slice();
    else if (method === 8) {
      const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
      bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    } else throw new ClipcmpError(`"${zipPath}": entry "${name}" uses unsupported compression method ${method}`);
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
