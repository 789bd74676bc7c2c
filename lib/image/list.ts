/**
 * Expands image arguments: files are kept as given, directories are listed (recursively, sorted) for
 * `.jpg`, `.jpeg` and `.png` files.
 *
 * @module
 */
import { ClipcmpError, firstLine } from "../errors.ts";

const IMAGE_EXT = /\.(jpe?g|png)$/i;

/** Why an entry under a listed directory was not taken. */
export type SkipReporter = (path: string, reason: string) => void;

/**
 * Lists image files under the given paths, in argument order then sorted name order. Symlinks are followed, to
 * files and to directories (a common ImageNet layout links class folders), with each real directory walked once,
 * so a link loop ends; a broken link is reported through `onSkip`, never silently dropped.
 *
 * @example
 * ```ts ignore
 * const files = await listImages(["data/samples/photo"], (p, why) => console.error(`skipped ${p}: ${why}`));
 * ```
 * @param paths Files or directories.
 * @param onSkip Called for each entry that was not taken and why.
 * @returns File paths.
 */
export async function listImages(paths: readonly string[], onSkip: SkipReporter = () => {}): Promise<string[]> {
  const out: string[] = [];
  const visited = new Set<string>();
  const walk = async (dir: string) => {
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch (err) {
      onSkip(dir, firstLine(err));
      return;
    }
    if (visited.has(real)) {
      onSkip(dir, `a link back to ${real}, already listed`);
      return;
    }
    visited.add(real);
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(dir)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = `${dir.replace(/\/$/, "")}/${e.name}`;
      let isDir = e.isDirectory;
      let isFile = e.isFile;
      if (e.isSymlink) {
        try {
          const st = await Deno.stat(p); // follows the link
          isDir = st.isDirectory;
          isFile = st.isFile;
        } catch {
          onSkip(p, "a broken symbolic link");
          continue;
        }
      }
      if (isDir) await walk(p);
      else if (IMAGE_EXT.test(e.name)) {
        if (isFile) out.push(p);
        else onSkip(p, "not a regular file");
      }
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
