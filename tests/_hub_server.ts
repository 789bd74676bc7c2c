/**
 * A loopback server in the Hugging Face URL layout, for download tests: `/{repo}/resolve/{rev}/{path}` answers
 * 302 with `X-Linked-Etag` and `X-Linked-Size` to `/cdn/{sha256}`, which serves the bytes with Range support.
 * Knobs inject the faults the tests need.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** Fault knobs, changeable between requests. */
export interface HubKnobs {
  /** Close the connection after this many body bytes, on the next CDN response only. */
  cutAfter?: number;
  /** Advertise this sha256 instead of the real one. */
  wrongEtag?: string;
  /** Answer every resolve request with this status. */
  status?: number;
  /** Delay between 16 KiB chunks, ms. */
  chunkDelayMs?: number;
  /** Serve small files directly (200) without a redirect or etag, like non-LFS files. */
  direct?: boolean;
}

/** A running hub. */
export interface TestHub {
  /** Base URL, e.g. http://127.0.0.1:12345. */
  endpoint: string;
  /** Fault knobs. */
  knobs: HubKnobs;
  /** Requests seen, e.g. `GET /cdn/… bytes=100-`. */
  log: string[];
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts a hub serving `files` (`repo/path` → bytes) on a loopback address.
 *
 * @param files The repository contents.
 * @param hostname The loopback address to listen on (127.0.0.2 stands for a mirror no task lists by default).
 * @returns The hub.
 */
export function startHub(files: Record<string, Uint8Array>, hostname = "127.0.0.1"): TestHub {
  const bySha = new Map<string, Uint8Array>();
  const shaOf = new Map<string, string>();
  for (const [k, v] of Object.entries(files)) {
    const sha = createHash("sha256").update(v).digest("hex");
    bySha.set(sha, v);
    shaOf.set(k, sha);
  }
  const knobs: HubKnobs = {};
  const log: string[] = [];
  const server = Deno.serve({ hostname, port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    const range = req.headers.get("range");
    log.push(`${req.method} ${url.pathname}${range ? ` ${range}` : ""}`);
    const m = /^\/(.+?\/.+?)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) {
      if (knobs.status) return new Response("fault", { status: knobs.status });
      const key = `${m[1]}/${decodeURIComponent(m[3]!)}`;
      const sha = shaOf.get(key);
      if (!sha) return new Response("Entry not found", { status: 404 });
      if (knobs.direct) return serveBytes(bySha.get(sha)!, range, knobs);
      return new Response(null, {
        status: 302,
        headers: {
          location: `/cdn/${sha}`,
          "x-linked-etag": `"${knobs.wrongEtag ?? sha}"`,
          "x-linked-size": String(bySha.get(sha)!.length),
        },
      });
    }
    const c = /^\/cdn\/([0-9a-f]{64})$/.exec(url.pathname);
    if (c && bySha.has(c[1]!)) return serveBytes(bySha.get(c[1]!)!, range, knobs);
    return new Response("not found", { status: 404 });
  });
  const addr = server.addr as Deno.NetAddr;
  return { endpoint: `http://${hostname}:${addr.port}`, knobs, log, close: () => server.shutdown() };
}

function serveBytes(all: Uint8Array, range: string | null, knobs: HubKnobs): Response {
  let start = 0;
  if (range) {
    const r = /^bytes=(\d+)-$/.exec(range);
    start = r ? Number(r[1]) : 0;
    if (start >= all.length) return new Response(null, { status: 416 });
  }
  const body = all.slice(start);
  const cut = knobs.cutAfter;
  knobs.cutAfter = undefined;
  const delay = knobs.chunkDelayMs ?? 0;
  const stream = new ReadableStream<Uint8Array>({
    async start(ctrl) {
      for (let o = 0; o < body.length; o += 16384) {
        if (cut !== undefined && o >= cut) {
          await new Promise((r) => setTimeout(r, 100)); // let the bytes sent so far reach the client
          ctrl.error(new Error("connection cut"));
          return;
        }
        ctrl.enqueue(body.slice(o, Math.min(body.length, o + 16384, cut ?? Infinity)));
        if (delay) await new Promise((r) => setTimeout(r, delay));
      }
      ctrl.close();
    },
  });
  const headers: Record<string, string> = { "content-length": String(body.length) };
  if (range) headers["content-range"] = `bytes ${start}-${all.length - 1}/${all.length}`;
  return new Response(stream, { status: range ? 206 : 200, headers });
}

/** The CLIP fixture (clip-tiny) as the files of `clip-rn50-immich`'s repository, for tests that fetch by name. */
export function immichHubFiles(): Record<string, Uint8Array> {
  const fix = new URL("../models/fixtures/clip-tiny/", import.meta.url);
  const files: Record<string, Uint8Array> = {};
  for (
    const f of [
      "visual/model.onnx",
      "visual/preprocess_cfg.json",
      "textual/model.onnx",
      "textual/tokenizer.json",
      "textual/tokenizer_config.json",
    ]
  ) {
    files[`immich-app/RN50__openai/${f}`] = Deno.readFileSync(new URL(f, fix));
  }
  return files;
}
