/**
 * Downloads model files from a Hugging Face-style hub into the cache, the way a careful client does:
 * - `GET {endpoint}/{repo}/resolve/{revision}/{path}` with `Accept-Encoding: identity`, following redirects by
 *   hand: `X-Linked-Etag` (the sha256 of LFS files), `X-Linked-Size` and `X-Repo-Commit` are read only from the
 *   hub's own answers, a relative hop (a renamed repository) is followed to the hub's final answer first, and
 *   only the hub's host and its CDN hosts (`*.hf.co`, `*.huggingface.co`) are followed; small git-stored files
 *   are checked against their git blob SHA-1 `ETag`;
 * - streamed to `<file>.part` with a progress bar, resumed with an HTTP Range request after an interruption;
 * - verified against the manifest's sha256, else `X-Linked-Etag`, else the lock file, else recorded there on
 *   first download, with the commit the hub served;
 * - renamed atomically into place, under an exclusive file lock so two processes never write the same file.
 *
 * The endpoint and `fetch` are injectable, so tests use a loopback server and inject DNS or connection errors.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ClipcmpError, firstLine } from "../errors.ts";
import { sha256OfPath } from "../fs.ts";
import { type LockEntry, readLock, recordLock } from "./lockfile.ts";
import { type ProgressSink, stderrProgress } from "./progress.ts";
import { isHubHost } from "./hosts.ts";

/** What to do when the hub cannot be reached: every way on, with its flag. */
export const HOW_TO_GO_ON =
  "check the network, or use a mirror (--hub-url URL or HF_ENDPOINT), local models (--clip DIR, --resnet FILE; the repository's tiny ones: --clip models/fixtures/weights/clip-rn-tiny --resnet models/fixtures/weights/resnet-tv-tiny), or --offline with a populated cache";

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
  /** Abort a request whose response headers do not arrive in this long (ms). Default 60 s. */
  headerTimeoutMs?: number;
  /** Abort a transfer slower than `bytesPerSecond` over any `windowMs`. Default 1 KB/s over 60 s. */
  minRate?: { bytesPerSecond: number; windowMs: number };
}

/** A file in a hub repository. */
export interface HubFile {
  /** `owner/name`. */
  repo: string;
  /** Branch, tag or commit. */
  revision: string;
  /** Path inside the repository. */
  path: string;
  /** The sha256 the file must have, when the manifest pins it (accepted from any revision). */
  sha256?: string;
}

/** Where a hub file lives in the cache. */
export function cachePath(cacheDir: string, f: HubFile): string {
  return `${cacheDir}/hub/${f.repo.replace("/", "--")}/${f.revision}/${f.path}`;
}

/** The lock-file key of a hub file. */
export function lockKey(f: HubFile): string {
  return `${f.repo}@${f.revision}/${f.path}`;
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
  const v = h.get("x-linked-etag")?.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return v && /^[0-9a-f]{64}$/.test(v) ? v : null;
}

/** A git blob SHA-1 in a plain `ETag` (the hub's answer for small files stored in git, not LFS). */
function etagGitSha1(h: Headers): string | null {
  const v = h.get("etag")?.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
  return v && /^[0-9a-f]{40}$/.test(v) ? v : null;
}

/** Git's blob id: sha1 of `blob <size>\0` and the content. */
async function gitBlobSha1(path: string): Promise<string> {
  const h = createHash("sha1");
  h.update(`blob ${(await Deno.stat(path)).size}\0`);
  using f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk);
  return h.digest("hex");
}

/** Hosts a hub redirect may lead to: the hub itself (any port), and the public hub's CDNs. */
function allowedTarget(target: URL, endpoint: URL): boolean {
  const host = target.hostname;
  const cdn = isHubHost(host);
  if (target.protocol === "https:") return cdn || host === endpoint.hostname;
  // Plain http only to the configured mirror's own host (a loopback or LAN mirror given with --hub-url).
  return target.protocol === "http:" && endpoint.protocol === "http:" && host === endpoint.hostname;
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
    const got = await sha256OfPath(dest);
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

/** What the hub said about a file, read only from responses of the hub's own host. */
interface HubMeta {
  sha256: string | null;
  size: number | null;
  commit: string | null;
  gitSha1: string | null;
}

const MAX_REDIRECTS = 10;

async function download(f: HubFile, dest: string, key: string, opts: HubOptions): Promise<void> {
  const doFetch = opts.fetch ?? fetch;
  const part = `${dest}.part`;
  const endpoint = new URL(opts.endpoint);
  const url = `${opts.endpoint.replace(/\/$/, "")}/${f.repo}/resolve/${encodeURIComponent(f.revision)}/${
    f.path.split("/").map(encodeURIComponent).join("/")
  }`;
  let have = (await exists(part)) ? (await Deno.stat(part)).size : 0;
  const headerMs = opts.headerTimeoutMs ?? 60_000;
  const get = async (u: string): Promise<Response> => {
    const headers: Record<string, string> = { "Accept-Encoding": "identity" };
    if (have > 0) headers.Range = `bytes=${have}-`;
    const ctrl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, headerMs);
    try {
      return await doFetch(u, { headers, redirect: "manual", signal: ctrl.signal });
    } catch (err) {
      if (timedOut) {
        throw new ClipcmpError(
          `Cannot download ${key}: ${new URL(u).host} sent no answer within ${headerMs / 1000} s; try again later`,
        );
      }
      throw new ClipcmpError(
        `Cannot download ${key}: ${describeNetworkError(err)}; ${HOW_TO_GO_ON}`,
      );
    } finally {
      clearTimeout(timer);
    }
  };
  // Follow redirects by hand: the sha256 is read from the hub's own answers (a relative first hop, such as a
  // renamed repository, is followed to the hub's final answer first), never from a CDN's ETag or X-Xet-Hash.
  const fetchFile = async (): Promise<{ res: Response; meta: HubMeta }> => {
    const meta: HubMeta = { sha256: null, size: null, commit: null, gitSha1: null };
    let u = url;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await get(u);
      const fromHub = new URL(u).host === endpoint.host;
      if (fromHub) {
        meta.sha256 = etagSha256(res.headers) ?? meta.sha256;
        meta.size = Number(res.headers.get("x-linked-size")) || meta.size;
        meta.commit = res.headers.get("x-repo-commit") ?? meta.commit;
      }
      if (res.status < 300 || res.status >= 400) {
        if (fromHub && !meta.sha256 && res.status < 300) meta.gitSha1 = etagGitSha1(res.headers);
        return { res, meta };
      }
      const loc = res.headers.get("location");
      await res.body?.cancel();
      if (!loc) throw new ClipcmpError(`Cannot download ${key}: the hub redirected without a location`);
      let next: URL;
      try {
        next = new URL(loc, u);
      } catch {
        throw new ClipcmpError(`Cannot download ${key}: the hub redirected to an invalid location`);
      }
      if (!allowedTarget(next, endpoint)) {
        throw new ClipcmpError(
          `Cannot download ${key}: the hub redirected to ${next.protocol}//${next.host}, which is neither the hub nor its CDN; refusing`,
        );
      }
      u = next.href;
    }
    throw new ClipcmpError(`Cannot download ${key}: more than ${MAX_REDIRECTS} redirects`);
  };
  let { res, meta } = await fetchFile();
  if (res.status === 404) {
    const code = res.headers.get("x-error-code");
    await res.body?.cancel();
    if (code === "RevisionNotFound") {
      throw new ClipcmpError(
        `Cannot download ${key}: revision ${f.revision} of ${f.repo} is not on ${opts.endpoint} (HTTP 404); choose another with --revision main`,
      );
    }
    if (code === "RepoNotFound") {
      throw new ClipcmpError(`Cannot download ${key}: repository ${f.repo} is not on ${opts.endpoint} (HTTP 404)`);
    }
    throw new ClipcmpError(
      `Cannot download ${key}: not found on ${opts.endpoint} (HTTP 404); if the revision was moved or removed, choose another with --revision main`,
    );
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new ClipcmpError(
      `Cannot download ${key}: access denied by ${opts.endpoint} (HTTP ${res.status}); the repository may be gated`,
    );
  }
  const restart = async () => {
    await res.body?.cancel();
    await Deno.remove(part).catch(() => {});
    have = 0;
    ({ res, meta } = await fetchFile());
  };
  if (res.status === 416 && have > 0) await restart(); // Range past the end: the partial file is stale
  if (res.status === 206) {
    // A 206 must continue exactly where the partial file ends; anything else would splice two files.
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    if (!m || Number(m[1]) !== have) await restart();
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new ClipcmpError(`Cannot download ${key}: ${opts.endpoint} answered HTTP ${res.status}; try again later`);
  }
  if (res.status === 200 && have > 0) {
    have = 0; // the server ignored Range: start over
  }
  const known = f.sha256 ?? null;
  if (known && meta.sha256 && known !== meta.sha256) {
    await res.body?.cancel();
    throw new ClipcmpError(
      `Cannot download ${key}: the hub says its sha256 is ${meta.sha256}, the manifest pins ${known}; nothing was cached`,
    );
  }
  // We ask for identity; a server that compresses anyway is decoded here, and its Content-Length (of the
  // compressed body) is not the file's size. A compressed body cannot continue a partial file.
  const encoding = (res.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  const encoded = encoding !== "identity";
  if (encoded && !["gzip", "x-gzip", "deflate"].includes(encoding)) {
    await res.body?.cancel();
    throw new ClipcmpError(
      `Cannot download ${key}: the hub sent Content-Encoding ${encoding}, which clipcmp cannot decode`,
    );
  }
  if (encoded) have = 0;
  const length = encoded ? null : Number(res.headers.get("content-length")) || null;
  const size = meta.size ?? (length !== null ? have + length : null);
  const hash = createHash("sha256");
  if (have > 0) {
    using old = await Deno.open(part);
    for await (const chunk of old.readable) hash.update(chunk);
  }
  const progress = (opts.progress ?? stderrProgress)(key, have);
  using out = await Deno.open(part, { create: true, write: true, truncate: have === 0, append: have > 0 });
  let done = have;
  const body = encoded
    ? res.body!.pipeThrough(new DecompressionStream(encoding === "deflate" ? "deflate" : "gzip"))
    : res.body!;
  const reader = body.getReader();
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  const rate = opts.minRate ?? { bytesPerSecond: 1024, windowMs: 60_000 };
  let windowStart = performance.now();
  let windowBytes = 0;
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
      if (size !== null && done + r.value.length > size) {
        await reader.cancel().catch(() => {});
        out.close();
        await Deno.remove(part).catch(() => {});
        throw new ClipcmpError(
          `Download of ${key} from ${new URL(url).host} sent more than the ${size} bytes announced; nothing was cached`,
        );
      }
      await out.write(r.value);
      hash.update(r.value);
      done += r.value.length;
      progress.update(done, size);
      windowBytes += r.value.length;
      const elapsed = performance.now() - windowStart;
      if (elapsed >= rate.windowMs) {
        if (windowBytes < rate.bytesPerSecond * elapsed / 1000) {
          throw new Error(
            `${new URL(url).host} sent ${windowBytes} bytes in ${
              (elapsed / 1000).toFixed(0)
            } s, below the minimum of ${rate.bytesPerSecond} bytes/s`,
          );
        }
        windowStart = performance.now();
        windowBytes = 0;
      }
    }
  } catch (err) {
    if (err instanceof ClipcmpError) throw err;
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
  const want = known ?? meta.sha256 ?? recorded?.sha256 ?? null;
  const fail = async (what: string) => {
    await Deno.remove(part).catch(() => {});
    return new ClipcmpError(`Download of ${key} failed its integrity check: ${what}; nothing was cached`);
  };
  if (want && want !== sha) {
    throw await fail(`sha256 ${sha} but ${known ? "the manifest pins" : "the hub says"} ${want}`);
  }
  let source: LockEntry["source"] = known ? "manifest" : meta.sha256 ? "x-linked-etag" : "first-download";
  if (!want && meta.gitSha1) {
    const blob = await gitBlobSha1(part);
    if (blob !== meta.gitSha1) throw await fail(`git blob sha1 ${blob} but the hub says ${meta.gitSha1}`);
    source = "git-blob-sha1";
  }
  progress.finish(done);
  await Deno.rename(part, dest);
  const entry: LockEntry = { sha256: sha, size: done, source };
  if (meta.commit) entry.commit = meta.commit;
  await recordLock(opts.cacheDir, key, entry);
}
