/**
 * The cache task's core, for the CLI (`deno task cache`) and scripts alike: what the model cache holds (each
 * manifest model's state, each file with the sha256 the lock file records), and clearing it.
 *
 * @module
 */
import { ClipcmpError, firstLine } from "../errors.ts";
import { readLock } from "../hub/lockfile.ts";
import { cachedModels } from "../models/manifest.ts";
import { docHeader } from "../envelope.ts";

/** One cached file. */
export interface CachedFile {
  /** The path inside the cache. */
  path: string;
  size: number;
  /** The sha256 the lock file records, or null. */
  sha256: string | null;
  /** The hub file it came from (`repo@revision/file`), or null. */
  source: string | null;
}

async function walk(dir: string, base = dir): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) entries.push(e);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return out;
    throw err;
  }
  entries = entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await walk(p, base));
    else if (e.isFile) out.push({ path: p.slice(base.length + 1), size: (await Deno.stat(p)).size });
  }
  return out;
}

async function cachedFiles(dir: string, lockMayBeBroken: boolean): Promise<CachedFile[]> {
  // --clear must work on a cache whose lock file is corrupt: that is how the corrupt-lock message says to recover.
  const lock = await readLock(dir).catch((err) => {
    if (lockMayBeBroken) return {};
    throw err;
  });
  const files = (await walk(dir)).filter((f) =>
    !/\.(lock|guard)$/.test(f.path) && !f.path.endsWith("clipcmp-lock.json")
  );
  const byPath = new Map(
    Object.entries(lock).map(([key, e]) => {
      const m = /^(.+?)\/(.+?)@([^/]+)\/(.+)$/.exec(key)!;
      return [`hub/${m[1]}--${m[2]}/${m[3]}/${m[4]}`, { key, ...e }];
    }),
  );
  const rows = files.map((f) => ({
    ...f,
    sha256: byPath.get(f.path)?.sha256 ?? null,
    source: byPath.get(f.path)?.key ?? null,
  }));
  return rows;
}

/**
 * Lists the cache.
 *
 * @param dir The cache directory.
 * @returns The document (`deno task cache --json`).
 */
export async function listCache(dir: string) {
  const files = await cachedFiles(dir, false);
  const models = await cachedModels(dir);
  return {
    ...docHeader("cache"),
    dir,
    models,
    files,
    total_bytes: files.reduce((a, r) => a + r.size, 0),
  };
}

/** The cache document. */
export type CacheDocument = Awaited<ReturnType<typeof listCache>>;

/**
 * Empties the cache (downloads, built models, heads, fp16 conversions and the lock file). It works on a cache
 * whose lock file is corrupt: that is how the corrupt-lock message says to recover.
 *
 * @param dir The cache directory.
 * @returns How many files and bytes were removed.
 */
export async function clearCache(dir: string): Promise<{ files: number; bytes: number }> {
  const rows = await cachedFiles(dir, true);
  for (const sub of ["hub", "heads", "built", "unzipped", "fp16", "clipcmp-lock.json", "clipcmp-lock.json.guard"]) {
    try {
      await Deno.remove(`${dir}/${sub}`, { recursive: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw new ClipcmpError(`Cannot clear "${dir}/${sub}": ${firstLine(err)}`);
    }
  }
  return { files: rows.length, bytes: rows.reduce((a, r) => a + r.size, 0) };
}
