/**
 * Where the default (real) models live: the model cache. Downloading them is the "Real models" work; until it
 * lands, a missing model is reported plainly with how to pass local ones.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";

/** Environment variable that overrides the cache directory. */
export const CACHE_ENV = "CLIPCMP_CACHE_DIR";

function env(name: string): string | undefined {
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
 * @returns The directory (it may not exist).
 */
export function cacheDir(flag?: string): string {
  if (flag) return flag;
  const fromEnv = env(CACHE_ENV);
  if (fromEnv) return fromEnv;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/clipcmp`;
  if (Deno.build.os === "windows") {
    const local = env("LOCALAPPDATA");
    if (local) return `${local}\\clipcmp`;
  }
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) throw new ClipcmpError(`Cannot find a cache directory: set ${CACHE_ENV} or pass --cache-dir`);
  return Deno.build.os === "darwin" ? `${home}/Library/Caches/clipcmp` : `${home}/.cache/clipcmp`;
}

/** The default models and where they are cached. */
export const DEFAULT_MODELS = {
  clip: { id: "clip-rn50", repo: "immich-app/RN50__openai", flag: "--clip DIR" },
  resnet: { id: "resnet50", repo: "qualcomm/ResNet50", flag: "--resnet FILE|DIR" },
} as const;

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Finds a default model in the cache, or explains in one line why it is not available.
 *
 * @param which `clip` or `resnet`.
 * @param opts The cache directory and whether `--offline` was given.
 * @returns The model's directory in the cache.
 */
export async function locateDefaultModel(
  which: "clip" | "resnet",
  opts: { cacheDir: string; offline: boolean },
): Promise<string> {
  const m = DEFAULT_MODELS[which];
  const dir = `${opts.cacheDir}/models/${m.id}`;
  if (await isDir(dir)) return dir;
  const why = opts.offline ? `--offline forbids downloading it` : `automatic download is not available in this version`;
  throw new ClipcmpError(
    `Model ${m.id} (${m.repo}) is not in the cache at ${dir} and ${why}; pass a local model with ${m.flag}`,
  );
}
