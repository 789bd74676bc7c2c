/**
 * Where the model cache is.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";

/** Environment variable that overrides the cache directory. */
export const CACHE_ENV = "CLIPCMP_CACHE_DIR";

/** Reads an environment variable; undefined when unset, empty or not granted. */
export function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env for it: fall through to the next choice
  }
}

/**
 * The cache directory: `--cache-dir`, else `$CLIPCMP_CACHE_DIR`, else `$XDG_CACHE_HOME/clipcmp`, else
 * `~/Library/Caches/clipcmp` on macOS, `%LOCALAPPDATA%\clipcmp` on Windows, `~/.cache/clipcmp` elsewhere.
 *
 * @example
 * ```ts
 * import { cacheDir } from "./locate.ts";
 * if (cacheDir("/tmp/x") !== "/tmp/x") throw new Error();
 * ```
 * @param flag The `--cache-dir` value, if given.
 * @param env Reads an environment variable (default: the process's, where granted).
 * @param os The operating system whose default applies (default: this one).
 * @returns The directory (it may not exist).
 */
export function cacheDir(
  flag?: string,
  env: (name: string) => string | undefined = envVar,
  os: typeof Deno.build.os = Deno.build.os,
): string {
  if (flag) return flag;
  const fromEnv = env(CACHE_ENV);
  if (fromEnv) return fromEnv;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/clipcmp`;
  if (os === "windows") {
    const local = env("LOCALAPPDATA");
    if (local) return `${local}\\clipcmp`;
  }
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) throw new ClipcmpError(`Cannot find a cache directory: set ${CACHE_ENV} or pass --cache-dir`);
  return os === "darwin" ? `${home}/Library/Caches/clipcmp` : `${home}/.cache/clipcmp`;
}
