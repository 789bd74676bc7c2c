/**
 * Downloads model files from a Hugging Face-style hub into the cache, the way a careful client does:
 * - `GET {endpoint}/{repo}/resolve/{revision}/{path}` without following the redirect, to read `X-Linked-Etag`
 *   (the sha256 of LFS files) and `X-Linked-Size`, then the file from wherever it redirects;
 * - streamed to `<file>.part` with a progress bar, resumed with an HTTP Range request after an interruption;
 * - verified against `X-Linked-Etag`, else against the lock file, else recorded there on first download;
 * - renamed atomically into place, under an exclusive file lock so two processes never write the same file.
 *
 * The endpoint and `fetch` are injectable, so tests use a loopback server and inject DNS or connection errors.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ClipcmpError, firstLine } from "../errors.ts";
import { type LockEntry, readLock, recordLock } from "./lockfile.ts";
import { type ProgressSink, stderrProgress } from "./progress.ts";

/** The public hub. */
export const DEFAULT_ENDPOINT = "https://huggingface.co";

/** How to reach the hub and where to cache. */
export interface HubOptions {
  /** Hub base URL (default `$HF_ENDPOINT`, else https://huggingface.co). */
  endpoint: string;
  /** Cache directory. */
  cacheDir: string;
  /** Never touch the network. */
  offline: boolean;
  /** `fetch` to use (tests inject failures). */
  fetch?: typeof fetch;
  /** Progress sink factory; default a stderr bar. */
  progress?: (label: string, start: number) => ProgressSink;
  /** Abort a transfer that receives nothing for this long (ms). Default 60 s. */
  idleTimeoutMs?: number;
}

/** A file in a hub repository. */
export interface HubFile {
  /** `owner/name`. */
  repo: string;
  /** Branch, tag or commit. */
  revision: string;
  /** Path inside the repository. */
  path: string;
}

/** Where a hub file lives in the cache. */
export function cachePath(cacheDir: string, f: HubFile): string {
  return `${cacheDir}/hub/${f.repo.replace("/", "--")}/${f.revision}/${f.path}`;
}

/** The lock-file key of a hub file. */
export function lockKey(f: HubFile): string {
  return `${f.repo}@${f.revision}/${f.path}`;
}

async function sha256OfFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  using file = await Deno.open(path);
  for await (const chunk of file.readable) {
    h.update(chunk);
    size += chunk.length;
  }
  return { sha256: h.digest("hex"), size };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

function etagSha256(h: Headers): string | null {
  const raw = h.get("x-linked-etag") ?? h.get("etag");
  const v = raw?.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return v && /^[0-9a-f]{64}$/.test(v) ? v : null;
}

function describeNetworkError(err: unknown): string {
  const msg = firstLine(err);
  if (/dns|lookup|resolve|name or service/i.test(msg)) return `cannot resolve the hub's host (${msg})`;
  if (/refused|unreachable|reset|timed? ?out|network/i.test(msg)) return `network error (${msg})`;
  return msg;
}

/**
 * Makes sure a hub file is in the cache, verified, and returns its local path.
 *
 * @example
 * ```ts ignore
 * const path = await ensureFile(
 *   { repo: "immich-app/RN50__openai", revision: "main", path: "visual/model.onnx" },
 *   { endpoint: DEFAULT_ENDPOINT, cacheDir: "/home/me/.cache/clipcmp", offline: false },
 * );
 * ```
 * @param f The file.
 * @param opts Hub and cache options.
 * @returns The cached file's path.
 */
export async function ensureFile(f: HubFile, opts: HubOptions): Promise<string> {
  const dest = cachePath(opts.cacheDir, f);
  const key = lockKey(f);
  const verifyCached = async (): Promise<boolean> => {
    if (!(await exists(dest))) return false;
    const recorded = (await readLock(opts.cacheDir))[key];
    if (!recorded) return true; // placed by hand or before the lock existed: trust, but nothing to check
    const got = await sha256OfFile(dest);
    if (got.sha256 === recorded.sha256) return true;
    if (opts.offline) {
      throw new ClipcmpError(
        `Cached ${key} is corrupt (sha256 ${got.sha256.slice(0, 12)}…, expected ${
          recorded.sha256.slice(0, 12)
        }…) and --offline forbids re-fetching it; run once online or delete ${dest}`,
      );
    }
    console.error(`clipcmp: cached ${key} fails its sha256 check; fetching it again`);
    await Deno.remove(dest);
    return false;
  };
  if (await verifyCached()) return dest;
  if (opts.offline) {
    throw new ClipcmpError(`${key} is not in the cache (${dest}) and --offline forbids downloading it`);
  }
  await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
  using guard = await Deno.open(`${dest}.lock`, { create: true, write: true });
  await guard.lock(true); // a second process waits here, then finds the file in place
  try {
    if (await verifyCached()) return dest;
    await download(f, dest, key, opts);
    return dest;
  } finally {
    await guard.unlock();
  }
}

async function download(f: HubFile, dest: string, key: string, opts: HubOptions): Promise<void> {
  const doFetch = opts.fetch ?? fetch;
  const part = `${dest}.part`;
  const url = `${opts.endpoint.replace(/\/$/, "")}/${f.repo}/resolve/${encodeURIComponent(f.revision)}/${
    f.path.split("/").map(encodeURIComponent).join("/")
  }`;
  let have = (await exists(part)) ? (await Deno.stat(part)).size : 0;
  const rangeHeaders = (): HeadersInit => (have > 0 ? { Range: `bytes=${have}-` } : {});
  const get = async (u: string, redirect: RequestRedirect): Promise<Response> => {
    try {
      return await doFetch(u, { headers: rangeHeaders(), redirect });
    } catch (err) {
      throw new ClipcmpError(
        `Cannot download ${key}: ${describeNetworkError(err)}; check the network or use local models`,
      );
    }
  };
  let res = await get(url, "manual");
  let expected: string | null = etagSha256(res.headers);
  let size = Number(res.headers.get("x-linked-size")) || null;
  if (res.status >= 300 && res.status < 400) {
    const loc = res.headers.get("location");
    await res.body?.cancel();
    if (!loc) throw new ClipcmpError(`Cannot download ${key}: the hub redirected without a location`);
    res = await get(new URL(loc, url).href, "follow");
  }
  if (res.status === 404) throw new ClipcmpError(`Cannot download ${key}: not found on ${opts.endpoint} (HTTP 404)`);
  if (res.status === 401 || res.status === 403) {
    throw new ClipcmpError(
      `Cannot download ${key}: access denied by ${opts.endpoint} (HTTP ${res.status}); the repository may be gated`,
    );
  }
  if (res.status === 416 && have > 0) {
    // Range past the end: the partial file is complete or stale; start over.
    await res.body?.cancel();
    await Deno.remove(part);
    have = 0;
    res = await get(url, "follow");
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new ClipcmpError(`Cannot download ${key}: ${opts.endpoint} answered HTTP ${res.status}; try again later`);
  }
  expected ??= etagSha256(res.headers);
  if (res.status === 200) have = 0; // the server ignored Range: start over
  const length = Number(res.headers.get("content-length")) || null;
  size ??= length !== null ? have + length : null;
  const hash = createHash("sha256");
  if (have > 0) {
    using old = await Deno.open(part);
    for await (const chunk of old.readable) hash.update(chunk);
  }
  const progress = (opts.progress ?? stderrProgress)(key, have);
  using out = await Deno.open(part, { create: true, write: true, truncate: have === 0, append: have > 0 });
  let done = have;
  const reader = res.body!.getReader();
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  try {
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
      });
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await Promise.race([reader.read(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (r.done) break;
      await out.write(r.value);
      hash.update(r.value);
      done += r.value.length;
      progress.update(done, size);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw new ClipcmpError(
      `Download of ${key} was interrupted after ${done} bytes (${firstLine(err)}); run again to resume`,
    );
  }
  if (size !== null && done !== size) {
    throw new ClipcmpError(`Download of ${key} ended early at ${done} of ${size} bytes; run again to resume`);
  }
  const sha = hash.digest("hex");
  const recorded: LockEntry | undefined = (await readLock(opts.cacheDir))[key];
  const want = expected ?? recorded?.sha256 ?? null;
  if (want && want !== sha) {
    await Deno.remove(part).catch(() => {});
    throw new ClipcmpError(
      `Download of ${key} failed its integrity check: sha256 ${sha} but the hub says ${want}; nothing was cached`,
    );
  }
  progress.finish(done);
  await Deno.rename(part, dest);
  await recordLock(opts.cacheDir, key, {
    sha256: sha,
    size: done,
    source: expected ? "x-linked-etag" : "first-download",
  });
}
