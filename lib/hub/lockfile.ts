/**
 * The cache's lock file, `clipcmp-lock.json`: the sha256 and size of every file downloaded, recorded on first
 * download (from Hugging Face's `X-Linked-Etag` where present), so later loads are verified.
 *
 * @module
 */
import { ClipcmpError, firstLine } from "../errors.ts";
import { writeFileAtomic } from "../fs.ts";

/** One recorded file. */
export interface LockEntry {
  /** Hex sha256. */
  sha256: string;
  /** Size in bytes. */
  size: number;
  /** Where the hash came from. */
  source: "manifest" | "x-linked-etag" | "git-blob-sha1" | "first-download";
  /** The commit the hub served (`X-Repo-Commit`), when it said. */
  commit?: string;
}

/** The lock file's path in a cache directory. */
export function lockPath(cacheDir: string): string {
  return `${cacheDir}/clipcmp-lock.json`;
}

/**
 * Reads the lock file (empty when absent).
 *
 * @param cacheDir The cache directory.
 * @returns Entries keyed by `repo@revision/path`.
 */
export async function readLock(cacheDir: string): Promise<Record<string, LockEntry>> {
  const path = lockPath(cacheDir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new ClipcmpError(`Cannot read the lock file "${path}": ${firstLine(err)}`);
  }
  let files: unknown;
  try {
    const doc = JSON.parse(text);
    files = doc?.files ?? {};
    if (typeof files !== "object" || files === null || Array.isArray(files)) throw new Error('no "files" object');
    for (const [k, e] of Object.entries(files as Record<string, unknown>)) {
      const v = e as Partial<LockEntry> | null;
      if (!v || typeof v.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(v.sha256) || typeof v.size !== "number") {
        throw new Error(`entry "${k}" has no valid sha256 and size`);
      }
    }
  } catch (err) {
    throw new ClipcmpError(
      `The lock file "${path}" is corrupt (${
        firstLine(err)
      }); run \`deno task cache --clear\` to start the cache afresh (the models are downloaded again)`,
    );
  }
  return files as Record<string, LockEntry>;
}

/**
 * Records one entry, under an exclusive file lock so concurrent processes do not lose each other's entries.
 *
 * @param cacheDir The cache directory.
 * @param key `repo@revision/path`.
 * @param entry The entry.
 */
export async function recordLock(cacheDir: string, key: string, entry: LockEntry): Promise<void> {
  using guard = await Deno.open(`${lockPath(cacheDir)}.guard`, { create: true, write: true });
  await guard.lock(true);
  try {
    const files = await readLock(cacheDir);
    files[key] = entry;
    const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : 1)));
    await writeFileAtomic(lockPath(cacheDir), JSON.stringify({ version: 1, files: sorted }, null, 2) + "\n");
  } finally {
    await guard.unlock();
  }
}
