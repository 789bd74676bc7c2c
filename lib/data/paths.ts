/**
 * Paths of the data the repository ships (the sample photos, the renditions), as seen from the working directory,
 * so the tasks' defaults work from any folder and still print short paths from the repository root.
 *
 * @module
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A path inside the repository, relative to the working directory.
 *
 * @example
 * ```ts
 * import { repoPath } from "./paths.ts";
 * if (!repoPath("data/samples/photo").endsWith("data/samples/photo")) throw new Error();
 * ```
 * @param rel The path from the repository root.
 * @returns The same file, from where the task runs.
 */
export function repoPath(rel: string): string {
  return relative(Deno.cwd(), `${ROOT}${rel}`) || ".";
}
