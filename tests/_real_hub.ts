/**
 * A loopback hub that behaves like the real one, on two servers (both 127.0.0.1, different ports):
 * - the hub answers `/{repo}/resolve/{revision}/{path}` for the revisions a repo has (its commit, `main`, tags);
 *   an unknown revision is `404` with `X-Error-Code: RevisionNotFound`, an unknown file `EntryNotFound`, an
 *   unknown repo `RepoNotFound`;
 * - LFS files (safetensors, onnx, zip) get a `302` to the CDN with `X-Linked-Etag` (sha256), `X-Linked-Size`,
 *   `X-Repo-Commit` and `ETag`;
 * - small git-stored files (JSON) are answered directly with their git blob SHA-1 as `ETag`, gzip-compressed
 *   (`Content-Encoding: gzip`, `Content-Length` of the compressed body) whatever the request asked;
 * - a renamed repo answers with a relative `307` to its new name;
 * - the CDN serves bytes with Range support, and sends an `ETag` and `X-Xet-Hash` that are not the sha256.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";

/** One repository. */
export interface HubRepo {
  /** The commit every revision resolves to. */
  commit: string;
  /** Other names of that commit (e.g. `main`, `v0.43.0`). */
  aliases?: string[];
  /** Files by path. */
  files: Record<string, Uint8Array>;
}

/** A running hub. */
export interface RealHub {
  /** The hub's base URL. */
  endpoint: string;
  /** The CDN's origin. */
  cdn: string;
  /** Requests seen, `hub GET /…` or `cdn GET /…`. */
  log: string[];
  /** Stops both servers. */
  close(): Promise<void>;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const gitSha1 = (b: Uint8Array) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const isLfs = (path: string) => /\.(safetensors|onnx|zip|bin|data)$/.test(path);

/**
 * Starts the hub.
 *
 * @param repos Repositories by name.
 * @param renamed Old repository names that redirect to new ones.
 * @returns The hub.
 */
export function startRealHub(repos: Record<string, HubRepo>, renamed: Record<string, string> = {}): RealHub {
  const log: string[] = [];
  const blobs = new Map<string, Uint8Array>();
  for (const r of Object.values(repos)) for (const b of Object.values(r.files)) blobs.set(sha256(b), b);
  const cdn = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    const range = req.headers.get("range");
    log.push(`cdn GET ${url.pathname}${range ? ` ${range}` : ""}`);
    const m = /^\/blobs\/([0-9a-f]{64})$/.exec(url.pathname);
    const all = m ? blobs.get(m[1]!) : undefined;
    if (!all) return new Response("not found", { status: 404 });
    const headers: Record<string, string> = { etag: '"cdn-object-etag-not-a-sha256"', "x-xet-hash": "0".repeat(64) };
    let start = 0;
    if (range) {
      const r = /^bytes=(\d+)-$/.exec(range);
      start = r ? Number(r[1]) : 0;
      if (start >= all.length) return new Response(null, { status: 416 });
      headers["content-range"] = `bytes ${start}-${all.length - 1}/${all.length}`;
    }
    headers["content-length"] = String(all.length - start);
    return new Response(all.slice(start), { status: range ? 206 : 200, headers });
  });
  const cdnOrigin = `http://127.0.0.1:${(cdn.addr as Deno.NetAddr).port}`;
  const hub = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    log.push(`hub GET ${url.pathname}`);
    const m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (!m) return new Response("not found", { status: 404 });
    const [, name, rev, rawPath] = m as unknown as [string, string, string, string];
    if (renamed[name]) {
      return new Response(null, { status: 307, headers: { location: `/${renamed[name]}/resolve/${rev}/${rawPath}` } });
    }
    const repo = repos[name];
    if (!repo) {
      return new Response("Repository not found", { status: 404, headers: { "x-error-code": "RepoNotFound" } });
    }
    const revision = decodeURIComponent(rev);
    if (revision !== repo.commit && !(repo.aliases ?? []).includes(revision)) {
      return new Response("Invalid rev id", { status: 404, headers: { "x-error-code": "RevisionNotFound" } });
    }
    const path = decodeURIComponent(rawPath);
    const bytes = repo.files[path];
    if (!bytes) return new Response("Entry not found", { status: 404, headers: { "x-error-code": "EntryNotFound" } });
    if (isLfs(path)) {
      const sha = sha256(bytes);
      return new Response(null, {
        status: 302,
        headers: {
          location: `${cdnOrigin}/blobs/${sha}`,
          "x-linked-etag": `"${sha}"`,
          "x-linked-size": String(bytes.length),
          "x-repo-commit": repo.commit,
          etag: `"${sha}"`,
        },
      });
    }
    const body = new Uint8Array(gzipSync(bytes));
    return new Response(body, {
      status: 200,
      headers: {
        etag: `"${gitSha1(bytes)}"`,
        "x-repo-commit": repo.commit,
        "content-encoding": "gzip",
        "content-length": String(body.length),
        "content-type": "application/json",
      },
    });
  });
  return {
    endpoint: `http://127.0.0.1:${(hub.addr as Deno.NetAddr).port}`,
    cdn: cdnOrigin,
    log,
    close: async () => {
      await hub.shutdown();
      await cdn.shutdown();
    },
  };
}
