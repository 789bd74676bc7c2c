/**
 * Output locations, checked before any work: a task that would fail to write its results after minutes of
 * inference fails first, in one line naming the location.
 *
 * @module
 */
import { resolve } from "node:path";
import { ClipcmpError, firstLine } from "./errors.ts";
import { TEMP_FILE } from "./fs.ts";

/** Why writing to `path` failed, in words a user can act on. */
export function writeFailure(path: string, err: unknown): string {
  const where = `"${path}"${path.startsWith("/") ? "" : ` (in ${Deno.cwd()})`}`;
  if (err instanceof Deno.errors.NotCapable) {
    return `Cannot write to ${where}: this run was not granted write access to it; \`deno task\` grants the --out you give, a direct \`deno run\` needs --allow-write=DIR`;
  }
  if (err instanceof Deno.errors.PermissionDenied) return `Cannot write to ${where}: the system denies it (read-only?)`;
  if (err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.NotADirectory) {
    return `Cannot write to ${where}: a file of that name is in the way`;
  }
  return `Cannot write to ${where}: ${firstLine(err)}`;
}

/** Creates and removes an empty file at `probe`: the write a task will make later, made now. */
async function probeWrite(probe: string): Promise<void> {
  await Deno.writeTextFile(probe, "");
  await Deno.remove(probe);
}

/**
 * Creates the output directory `dir` (and its parents) and proves it writable with a probe file, before any
 * work starts. Temp files that a killed run left there are removed.
 *
 * @example
 * ```ts ignore
 * const out = await prepareOutDir(flags.out ?? "reports/compare-now");
 * ```
 * @param dir The directory, relative to the working directory or absolute.
 * @returns Its absolute path.
 */
export async function prepareOutDir(dir: string): Promise<string> {
  const abs = resolve(Deno.cwd(), dir);
  try {
    await Deno.mkdir(abs, { recursive: true });
    await probeWrite(`${abs}/.clipcmp-probe-${Deno.pid}`);
    for await (const e of Deno.readDir(abs)) {
      if (e.isFile && TEMP_FILE.test(e.name)) await Deno.remove(`${abs}/${e.name}`);
    }
  } catch (err) {
    throw new ClipcmpError(writeFailure(dir, err));
  }
  return abs;
}

/**
 * Proves that the file `path` can be written (its directory, created if missing, takes a new file), before any
 * work.
 *
 * @param path The output file.
 * @returns Its absolute path.
 */
export async function prepareOutFile(path: string): Promise<string> {
  const abs = resolve(Deno.cwd(), path);
  const dir = abs.slice(0, abs.lastIndexOf("/")) || "/";
  try {
    await Deno.mkdir(dir, { recursive: true });
    await probeWrite(`${abs}.clipcmp-probe-${Deno.pid}`);
  } catch (err) {
    throw new ClipcmpError(writeFailure(path, err));
  }
  return abs;
}

/**
 * A task's default report directory, `reports/<task>-<time>`, relative to where the user runs it.
 *
 * @example
 * ```ts
 * import { defaultOutDir } from "./output.ts";
 * if (!/^reports\/eval-\d{4}-\d\d-\d\dT/.test(defaultOutDir("eval"))) throw new Error();
 * ```
 * @param task The task's name.
 * @returns The directory path.
 */
export function defaultOutDir(task: string): string {
  return `reports/${task}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
}
