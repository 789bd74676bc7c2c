/**
 * Expands image arguments: files are kept as given, directories are listed (recursively, sorted) for
 * `.jpg`, `.jpeg` and `.png` files.
 *
 * @module
 */
import { ClipcmpError, firstLine } from "../errors.ts";

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/**
 * Lists image files under the given paths, in argument order then sorted name order.
 *
 * @example
 * ```ts ignore
 * const files = await listImages(["data/samples/photo"]);
 * ```
 * @param paths Files or directories.
 * @returns File paths.
 */
export async function listImages(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = `${dir.replace(/\/$/, "")}/${e.name}`;
      if (e.isDirectory) await walk(p);
      else if (e.isFile && IMAGE_EXT.test(e.name)) out.push(p);
    }
  };
  for (const p of paths) {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(p);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new ClipcmpError(`Cannot read "${p}": no such file or directory`);
      throw new ClipcmpError(`Cannot read "${p}": ${firstLine(err)}`);
    }
    if (st.isDirectory) await walk(p);
    else out.push(p);
  }
  return out;
}
