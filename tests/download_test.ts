import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import { cachePath, ensureFile, type HubOptions } from "../lib/hub/download.ts";
import { readLock } from "../lib/hub/lockfile.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { rng, ROOT, tempDir } from "./_helpers.ts";
import { startHub } from "./_hub_server.ts";

const r = rng(77);
const BIG = Uint8Array.from({ length: 300_000 }, () => Math.floor(r() * 256));
const SMALL = new TextEncoder().encode('{"do_normalize": false}');
const FILES = { "org/model/weights/model.onnx": BIG, "org/model/preprocessor_config.json": SMALL };
const SHA = createHash("sha256").update(BIG).digest("hex");
const FILE = { repo: "org/model", revision: "main", path: "weights/model.onnx" };
const quiet = () => ({ update() {}, finish() {} });

async function withHub(fn: (hub: ReturnType<typeof startHub>, opts: HubOptions) => Promise<void>): Promise<void> {
  const hub = startHub(FILES);
  const cacheDir = await tempDir();
  try {
    await fn(hub, { endpoint: hub.endpoint, cacheDir, offline: false, progress: quiet });
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

const sha256 = async (p: string) => createHash("sha256").update(await Deno.readFile(p)).digest("hex");
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

Deno.test("ensureFile() downloads through the hub's redirect, verifies X-Linked-Etag and records it in the lock file", async () => {
  await withHub(async (hub, opts) => {
    const path = await ensureFile(FILE, opts);
    assertEquals(path, cachePath(opts.cacheDir, FILE));
    assertEquals(await sha256(path), SHA);
    assertEquals((await readLock(opts.cacheDir))["org/model@main/weights/model.onnx"], {
      sha256: SHA,
      size: BIG.length,
      source: "x-linked-etag",
    });
    assertEquals(hub.log, ["GET /org/model/resolve/main/weights/model.onnx", `GET /cdn/${SHA}`]);
    hub.log.length = 0;
    assertEquals(await ensureFile(FILE, opts), path); // a cache hit: verified against the lock, no request
    assertEquals(hub.log, []);
  });
});

Deno.test("a transfer cut mid-way resumes with an HTTP Range request and completes intact", async () => {
  await withHub(async (hub, opts) => {
    hub.knobs.cutAfter = 100_000;
    await rejects(
      ensureFile(FILE, opts),
      (e: Error) => e instanceof ClipcmpError && /interrupted after \d+ bytes .*run again to resume/.test(e.message),
    );
    const part = `${cachePath(opts.cacheDir, FILE)}.part`;
    const have = (await Deno.stat(part)).size;
    assert(have >= 90_000 && have <= 100_000, `partial file holds ${have} bytes`);
    assert(!(await exists(cachePath(opts.cacheDir, FILE))));
    const path = await ensureFile(FILE, opts);
    assert(hub.log.includes(`GET /cdn/${SHA} bytes=${have}-`), hub.log.join("\n"));
    assertEquals(await sha256(path), SHA);
    assert(!(await exists(part)));
  });
});

Deno.test("a hash mismatch is rejected and nothing is cached", async () => {
  await withHub(async (hub, opts) => {
    hub.knobs.wrongEtag = "0".repeat(64);
    await rejects(
      ensureFile(FILE, opts),
      /failed its integrity check: sha256 [0-9a-f]{64} but the hub says 0{64}; nothing was cached/,
    );
    const dest = cachePath(opts.cacheDir, FILE);
    assert(!(await exists(dest)) && !(await exists(`${dest}.part`)));
    assertEquals(await readLock(opts.cacheDir), {});
  });
});

Deno.test("HTTP 404 and 500 give one-line messages naming the file", async () => {
  await withHub(async (hub, opts) => {
    await rejects(
      ensureFile({ ...FILE, path: "nope.onnx" }, opts),
      /Cannot download org\/model@main\/nope.onnx: not found on http:\/\/127.0.0.1:\d+ \(HTTP 404\)/,
    );
    hub.knobs.status = 500;
    await rejects(
      ensureFile(FILE, opts),
      /Cannot download org\/model@main\/weights\/model.onnx: .* answered HTTP 500; try again later/,
    );
  });
});

Deno.test("a slow server shows progress advancing", async () => {
  await withHub(async (hub, opts) => {
    hub.knobs.chunkDelayMs = 20;
    const seen: number[] = [];
    let finished = 0;
    await ensureFile(FILE, {
      ...opts,
      progress: () => ({ update: (d) => seen.push(d), finish: (d) => (finished = d) }),
    });
    assert(seen.length >= 10, `only ${seen.length} updates`);
    assert(seen.every((v, i) => i === 0 || v > seen[i - 1]!), "progress must increase");
    assertEquals(finished, BIG.length);
  });
});

Deno.test("a stalled transfer times out instead of hanging, and can resume", async () => {
  await withHub(async (hub, opts) => {
    hub.knobs.chunkDelayMs = 400;
    await rejects(
      ensureFile(FILE, { ...opts, idleTimeoutMs: 100 }),
      /interrupted after \d+ bytes \(no data for 0.1 s\)/,
    );
    hub.knobs.chunkDelayMs = 0;
    assertEquals(await sha256(await ensureFile(FILE, opts)), SHA);
  });
});

Deno.test("DNS and connection failures are injected, never resolved, and reported in one line", async () => {
  const cacheDir = await tempDir();
  try {
    for (
      const [msg, pattern] of [
        [
          "error sending request: dns error: failed to lookup address information: Name or service not known",
          /cannot resolve the hub's host/,
        ],
        ["error sending request: tcp connect error: Connection refused (os error 111)", /network error/],
      ] as const
    ) {
      const failing = (() => Promise.reject(new TypeError(msg))) as typeof fetch;
      await rejects(
        ensureFile(FILE, {
          endpoint: "https://hub.invalid",
          cacheDir,
          offline: false,
          fetch: failing,
          progress: quiet,
        }),
        (e: Error) => e instanceof ClipcmpError && pattern.test(e.message) && !e.message.includes("\n"),
      );
    }
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("offline: a missing file is named; a corrupt cache entry is caught by its hash, re-fetched online, refused offline", async () => {
  await withHub(async (_hub, opts) => {
    await rejects(
      ensureFile(FILE, { ...opts, offline: true }),
      /org\/model@main\/weights\/model.onnx is not in the cache .* --offline forbids downloading it/,
    );
    const path = await ensureFile(FILE, opts);
    const bad = await Deno.readFile(path);
    bad[12345] = bad[12345]! ^ 0xff;
    await Deno.writeFile(path, bad);
    await rejects(
      ensureFile(FILE, { ...opts, offline: true }),
      /Cached org\/model@main\/weights\/model.onnx is corrupt .* --offline forbids re-fetching/,
    );
    assertEquals(await sha256(await ensureFile(FILE, opts)), SHA);
  });
});

Deno.test("a file served without an etag is recorded on first download and verified afterwards", async () => {
  await withHub(async (hub, opts) => {
    hub.knobs.direct = true;
    const f = { repo: "org/model", revision: "main", path: "preprocessor_config.json" };
    const path = await ensureFile(f, opts);
    assertEquals((await readLock(opts.cacheDir))["org/model@main/preprocessor_config.json"]!.source, "first-download");
    await Deno.writeTextFile(path, "tampered");
    await rejects(ensureFile(f, { ...opts, offline: true }), /is corrupt/);
  });
});

Deno.test("two processes downloading the same file at once leave one intact copy", async () => {
  await withHub(async (hub, opts) => {
    hub.knobs.chunkDelayMs = 5;
    const child = () =>
      new Deno.Command("deno", {
        args: [
          "run",
          "--allow-read",
          `--allow-write=${opts.cacheDir}`,
          "--allow-net=127.0.0.1",
          `${ROOT}/tests/_download_child.ts`,
          hub.endpoint,
          opts.cacheDir,
          FILE.repo,
          FILE.path,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const [a, b] = await Promise.all([child(), child()]);
    const dec = new TextDecoder();
    assert(a.success && b.success, dec.decode(a.stderr) + dec.decode(b.stderr));
    assertEquals(dec.decode(a.stdout).trim(), dec.decode(b.stdout).trim());
    assertEquals(await sha256(cachePath(opts.cacheDir, FILE)), SHA);
    assertEquals(hub.log.filter((l) => l.startsWith("GET /cdn/")).length, 1, hub.log.join("\n"));
  });
});
