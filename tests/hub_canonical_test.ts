import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import { ensureModel, manifest } from "../lib/models/manifest.ts";
import { cachePath, ensureFile, type HubOptions } from "../lib/hub/download.ts";
import { readLock } from "../lib/hub/lockfile.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { FIX, ROOT, runTaskCli, tempDir } from "./_helpers.ts";
import { type HubRepo, startRealHub } from "./_real_hub.ts";

const read = (p: string) => Deno.readFileSync(`${FIX}/${p}`);
const CLIP_COMMIT = manifest()["clip-rn50"]!.revision;
const RESNET_COMMIT = manifest()["resnet50"]!.revision;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** The pinned repositories' layouts at their commits, holding the small-width fixtures. */
function repos(): Record<string, HubRepo> {
  return {
    "timm/resnet50_clip.openai": {
      commit: CLIP_COMMIT,
      aliases: ["main"],
      files: {
        "open_clip_model.safetensors": read("weights/clip-rn-tiny/open_clip_model.safetensors"),
        "open_clip_config.json": read("weights/clip-rn-tiny/open_clip_config.json"),
        "tokenizer.json": read("weights/clip-rn-tiny/tokenizer.json"),
      },
    },
    "timm/resnet50.tv_in1k": {
      commit: RESNET_COMMIT,
      aliases: ["main"],
      files: {
        "model.safetensors": read("weights/resnet-tv-tiny/model.safetensors"),
        "config.json": read("weights/resnet-tv-tiny/config.json"),
      },
    },
    "qualcomm/ResNet50": {
      commit: "4f1c0ffee0000000000000000000000000000043",
      aliases: ["v0.43.0"],
      files: { "ResNet50_float.onnx.zip": read("hub/ResNet50_float.onnx.zip") },
    },
  };
}

const quiet = () => ({ update() {}, finish() {} });

async function withHub(
  fn: (opts: HubOptions, hub: ReturnType<typeof startRealHub>) => Promise<void>,
  renamed: Record<string, string> = {},
  edit: (r: Record<string, HubRepo>) => void = () => {},
) {
  const r = repos();
  edit(r);
  const hub = startRealHub(r, renamed);
  const cacheDir = await tempDir();
  try {
    await fn({ endpoint: hub.endpoint, cacheDir, offline: false, progress: quiet }, hub);
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

Deno.test("the default CLIP comes from its pinned commit through the CDN; LFS sha256 from the hub host, JSON by git blob SHA-1 despite gzip, commits in the lock", async () => {
  await withHub(async (opts, hub) => {
    const m = await ensureModel("clip-rn50", opts);
    for (const f of ["open_clip_model.safetensors", "open_clip_config.json", "tokenizer.json"]) {
      assertEquals(await Deno.readFile(`${m.path}/${f}`), read(`weights/clip-rn-tiny/${f}`), f);
    }
    const lock = await readLock(opts.cacheDir);
    const key = (p: string) => `timm/resnet50_clip.openai@${CLIP_COMMIT}/${p}`;
    assertEquals(lock[key("open_clip_model.safetensors")]!.source, "x-linked-etag");
    assertEquals(lock[key("open_clip_config.json")]!.source, "git-blob-sha1");
    assertEquals(lock[key("tokenizer.json")]!.source, "git-blob-sha1");
    for (const e of Object.values(lock)) assertEquals(e.commit, CLIP_COMMIT);
    assert(hub.log.some((l) => l.startsWith("cdn GET /blobs/")), hub.log.join("\n"));
    assert(!hub.log.some((l) => l.startsWith("cdn GET") && l.includes(".json")));
  });
});

Deno.test("a renamed repository's relative first hop is followed to the hub's final answer before the etag is read", async () => {
  await withHub(
    async (opts, hub) => {
      const m = await ensureModel("clip-rn50", opts);
      assert((await Deno.stat(`${m.path}/open_clip_model.safetensors`)).isFile);
      assert(hub.log.some((l) => l.startsWith("hub GET /timm/clip-renamed/resolve/")), hub.log.join("\n"));
      const lock = await readLock(opts.cacheDir);
      assertEquals(
        lock[`timm/resnet50_clip.openai@${CLIP_COMMIT}/open_clip_model.safetensors`]!.source,
        "x-linked-etag",
      );
    },
    { "timm/resnet50_clip.openai": "timm/clip-renamed" },
    (r) => {
      r["timm/clip-renamed"] = r["timm/resnet50_clip.openai"]!;
      delete r["timm/resnet50_clip.openai"];
    },
  );
});

Deno.test("a manifest-pinned sha256 is enforced: a hub serving other bytes is refused and nothing is cached", async () => {
  await withHub(async (opts) => {
    await rejects(ensureModel("resnet50", opts), (e: Error) => {
      assert(e instanceof ClipcmpError && !e.message.includes("\n"), e.message);
      assert(
        /model\.safetensors: the hub says its sha256 is [0-9a-f]{64}, the manifest pins 5d061a3c/.test(e.message),
        e.message,
      );
      return true;
    });
    const dest = cachePath(opts.cacheDir, {
      repo: "timm/resnet50.tv_in1k",
      revision: RESNET_COMMIT,
      path: "model.safetensors",
    });
    assert(!(await Deno.stat(dest).then(() => true, () => false)));
  });
});

Deno.test("a pinned revision that answers 404 says so in one line and names --revision; another revision needs --allow-unpinned for unknown hashes", async () => {
  await withHub(
    async (opts) => {
      await rejects(
        ensureModel("clip-rn50", opts),
        /revision b5ad1dd2714e05200953a70eb508a352fc52b803 of timm\/resnet50_clip\.openai is not on .* \(HTTP 404\); choose another with --revision main/,
      );
      await rejects(
        ensureModel("clip-rn50", { ...opts, revision: "main" }),
        /open_clip_model\.safetensors, open_clip_config\.json, tokenizer\.json have no known sha256, so revision main .* pass --allow-unpinned/,
      );
      const m = await ensureModel("clip-rn50", { ...opts, revision: "main", allowUnpinned: true });
      assert(m.path.includes("/main"), m.path);
      const lock = await readLock(opts.cacheDir);
      assertEquals(lock["timm/resnet50_clip.openai@main/open_clip_model.safetensors"]!.commit, "c0ffee");
    },
    {},
    (r) => {
      r["timm/resnet50_clip.openai"]!.commit = "c0ffee";
    },
  );
});

Deno.test("redirects to anything but the hub or its CDN are refused (file:, other hosts), and a CDN's ETag is never taken for the sha256", async () => {
  const cacheDir = await tempDir();
  const file = { repo: "o/m", revision: "main", path: "model.onnx" };
  for (const location of ["file:///etc/passwd", "https://evil.example/model.onnx", "http://cdn.hf.co/x"]) {
    const fake: typeof fetch = () =>
      Promise.resolve(
        new Response(null, { status: 302, headers: { location, "x-linked-etag": `"${"a".repeat(64)}"` } }),
      );
    await rejects(
      ensureFile(file, { endpoint: "https://huggingface.co", cacheDir, offline: false, fetch: fake, progress: quiet }),
      (e: Error) => /redirected to .*, which is neither the hub nor its CDN; refusing/.test(e.message),
    );
  }
  // A CDN answering with a 64-hex ETag / X-Xet-Hash: the file is checked against the hub's X-Linked-Etag only.
  const body = new TextEncoder().encode("weights");
  const fake: typeof fetch = (input) => {
    const u = String(input);
    if (u.startsWith("https://huggingface.co/")) {
      return Promise.resolve(
        new Response(null, {
          status: 302,
          headers: { location: "https://cdn.hf.co/blob", "x-linked-etag": `"${sha256(body)}"`, "x-linked-size": "7" },
        }),
      );
    }
    return Promise.resolve(
      new Response(body, { headers: { etag: `"${"b".repeat(64)}"`, "x-xet-hash": "c".repeat(64) } }),
    );
  };
  const p = await ensureFile(file, {
    endpoint: "https://huggingface.co",
    cacheDir,
    offline: false,
    fetch: fake,
    progress: quiet,
  });
  assertEquals(await Deno.readFile(p), body);
  assertEquals((await readLock(cacheDir))["o/m@main/model.onnx"]!.source, "x-linked-etag");
  await Deno.remove(cacheDir, { recursive: true });
});

Deno.test("the Qualcomm alternative downloads at its v0.43.0 revision as a model.onnx + model.data zip", async () => {
  await withHub(async (opts) => {
    const m = await ensureModel("resnet50-qualcomm", opts);
    assert(m.path.endsWith("ResNet50_float.onnx/model.onnx"), m.path);
    assert((await Deno.stat(m.path.replace(/model\.onnx$/, "model.data"))).isFile);
  });
});

// End to end: the tasks, run with their declared permissions against the loopback hub, nothing changed but the
// hub URL (and a manifest whose ResNet sha256 is the fixture's, since the real one pins the real file).
Deno.test("compare, zeroshot, params and fp16 run end to end from the loopback hub with --hub-url", async () => {
  const hub = startRealHub(repos());
  const dir = await tempDir();
  const home = await tempDir();
  try {
    const m = JSON.parse(await Deno.readTextFile(`${ROOT}/models/manifest.json`));
    m.models.resnet50.sha256["model.safetensors"] = sha256(read("weights/resnet-tv-tiny/model.safetensors"));
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(m));
    // A fresh HOME (so an empty model cache), sharing the suite's Mesa shader cache (llvmpipe compiles slowly).
    const env = {
      CLIPCMP_MANIFEST: `${dir}/manifest.json`,
      HOME: home,
      MESA_SHADER_CACHE_DIR: `${ROOT}/tests/.tmp/home/.cache/mesa_shader_cache`,
    };
    const hubArgs = ["--hub-url", hub.endpoint, "--device", "wasm"];
    const params = await runTaskCli("params", ["--hub-url", hub.endpoint, "--json"], env);
    assertEquals(params.code, 0, params.stderr);
    const p = JSON.parse(params.stdout);
    const R = JSON.parse(await Deno.readTextFile(`${FIX}/weights/refs.json`));
    assertEquals(p.models.clip_visual.pytorch_equivalent, R.clip.params_visual);
    assertEquals(p.models.clip_textual.pytorch_equivalent, R.clip.params_textual);
    assertEquals(p.models.resnet.pytorch_equivalent, R.resnet.params);
    const cmp = await runTaskCli("compare", [...hubArgs, "--no-report", "--json", "data/samples/photo"], env);
    assertEquals(cmp.code, 0, cmp.stderr);
    assertEquals(JSON.parse(cmp.stdout).summary.n, 10);
    const zs = await runTaskCli("zeroshot", [
      ...hubArgs,
      "--labels",
      "cat,dog",
      "--json",
      "data/samples/photo/n02128385_leopard.jpg",
    ], env);
    assertEquals(zs.code, 0, zs.stderr);
    assertEquals(JSON.parse(zs.stdout).results.length, 1);
    const fp = await runTaskCli("fp16", [
      "--hub-url",
      hub.endpoint,
      "--device",
      "webgpu",
      "--batch",
      "1",
      "--runs",
      "5",
      "--warmup",
      "1",
      "--json",
    ], env);
    assertEquals(fp.code, 0, fp.stderr);
    // Downloads happened once: the later tasks found everything in the cache.
    const safetensorsGets = hub.log.filter((l) => l.startsWith("hub GET") && l.endsWith("open_clip_model.safetensors"));
    assertEquals(safetensorsGets.length, 1, hub.log.join("\n"));
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("a CLIP whose text tower computes exact GELU (Erf) is flagged on the run and in the report's provenance", async () => {
  // The canonical weights with a config that asks for exact GELU: the built text tower then holds Erf nodes, as
  // immich's open_clip >= 2.29 exports do.
  const dir = await tempDir();
  try {
    for (const f of ["open_clip_model.safetensors", "tokenizer.json"]) {
      await Deno.copyFile(`${FIX}/weights/clip-rn-tiny/${f}`, `${dir}/${f}`);
    }
    const cfg = JSON.parse(await Deno.readTextFile(`${FIX}/weights/clip-rn-tiny/open_clip_config.json`));
    cfg.model_cfg.quick_gelu = false;
    await Deno.writeTextFile(`${dir}/open_clip_config.json`, JSON.stringify(cfg));
    const run = await runTaskCli("compare", [
      "--clip",
      dir,
      "--resnet",
      "models/fixtures/weights/resnet-tv-tiny",
      "--device",
      "wasm",
      "--no-report",
      "--json",
      "data/samples/photo",
    ]);
    assertEquals(run.code, 0, run.stderr);
    assert(/text tower .*exact GELU \(\d+ Erf nodes\).*not OpenAI's activation/.test(run.stderr), run.stderr);
    const doc = JSON.parse(run.stdout);
    assert(/not OpenAI's activation/.test(doc.provenance.models.clip.textual.activation_note));
    assertEquals(doc.provenance.models.clip.visual.activation_note, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
