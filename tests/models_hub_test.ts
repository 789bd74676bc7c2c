import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { checkIo, ensureModel, manifest } from "../lib/models/manifest.ts";
import type { HubOptions } from "../lib/hub/download.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { ResnetModel, resolveResnet } from "../lib/models/resnet.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { FIX, runTaskCli, tempDir } from "./_helpers.ts";
import { startHub } from "./_hub_server.ts";

const read = (p: string) => Deno.readFileSync(`${FIX}/${p}`);
/** The fixtures, served in the real repositories' layouts. */
const HUB_FILES: Record<string, Uint8Array> = {
  "immich-app/RN50__openai/visual/model.onnx": read("clip-tiny/visual/model.onnx"),
  "immich-app/RN50__openai/visual/preprocess_cfg.json": read("clip-tiny/visual/preprocess_cfg.json"),
  "immich-app/RN50__openai/textual/model.onnx": read("clip-tiny/textual/model.onnx"),
  "immich-app/RN50__openai/textual/tokenizer.json": read("clip-tiny/textual/tokenizer.json"),
  "immich-app/RN50__openai/textual/tokenizer_config.json": read("clip-tiny/textual/tokenizer_config.json"),
  "qualcomm/ResNet50/ResNet50_float.onnx.zip": read("hub/ResNet50_float.onnx.zip"),
};
const quiet = () => ({ update() {}, finish() {} });

async function withCache(fn: (opts: HubOptions) => Promise<void>): Promise<void> {
  const hub = startHub(HUB_FILES);
  const cacheDir = await tempDir();
  try {
    await fn({ endpoint: hub.endpoint, cacheDir, offline: false, progress: quiet });
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

Deno.test("the manifest's defaults are the canonical weights at pinned commits; the exports are named alternatives", () => {
  const m = manifest();
  assertEquals(m["clip-rn50"]!.repo, "timm/resnet50_clip.openai");
  assertEquals(m["clip-rn50"]!.revision, "b5ad1dd2714e05200953a70eb508a352fc52b803");
  assertEquals(m["clip-rn50"]!.format, "weights");
  assertEquals(m["resnet50"]!.repo, "timm/resnet50.tv_in1k");
  assertEquals(m["resnet50"]!.revision, "aa6c2d36d56bc0209040c02b5a7b7d7bf11d57b8");
  assertEquals(
    m["resnet50"]!.sha256!["model.safetensors"],
    "5d061a3c593d795bfe682d9b152bafbcf550579873492def3515b46db1189888",
  );
  assertEquals(m["resnet50"]!.input, "imagenet");
  assertEquals(m["clip-rn50-immich"]!.repo, "immich-app/RN50__openai");
  assertEquals(m["clip-rn50-immich"]!.io["textual/model.onnx"]!.inputs[0], {
    name: "text",
    type: "int32",
    shape: [1, 77],
  });
  assertEquals(m["resnet50-qualcomm"]!.io.model!.outputs[0]!.name, "class_logits");
  assertEquals(m["resnet50-qualcomm"]!.input, "unit");
  assertEquals(m["resnet50-a1"]!.repo, "Xenova/resnet-50");
  assert(m["clip-rn50"]!.default && m["resnet50"]!.default);
  for (const k of ["clip-rn50-immich", "resnet50-qualcomm", "resnet50-a1", "clip-vit-b32"]) assert(!m[k]!.default, k);
});

Deno.test("ensureModel() fetches CLIP in the immich layout and the zipped ResNet with external data, which load and match the manifest", async () => {
  await withCache(async (opts) => {
    const clip = await ensureModel("clip-rn50-immich", opts);
    const resnet = await ensureModel("resnet50-qualcomm", opts);
    assert(resnet.path.endsWith("ResNet50_float.onnx/model.onnx"), resnet.path);
    const extracted = resnet.path.replace(/model\.onnx$/, "model.data");
    assert((await Deno.stat(extracted)).size > 100_000, "model.data extracted beside model.onnx");
    const c = await ClipModel.load(clip.path, { ep: "wasm" });
    const r = await ResnetModel.load(await resolveResnet(resnet.path, resnet.entry.input), { ep: "wasm" });
    try {
      checkIo(c.visual.session, clip.entry.io["visual/model.onnx"]!);
      checkIo(c.textual, clip.entry.io["textual/model.onnx"]!);
      checkIo(r.graph.session, resnet.entry.io.model!);
      assertEquals(r.source.recipe.name, "torchvision-unit");
      // A model that does not match is named in one line.
      let msg = "";
      try {
        checkIo(c.visual.session, resnet.entry.io.model!);
      } catch (err) {
        msg = (err as Error).message;
      }
      assert(
        // (the batch-1 image tower was rewritten to a dynamic batch on load)
        /visual\/model.onnx" input 0 is image float32 \[batch,3,224,224\], the manifest expects image_tensor/.test(msg),
        msg,
      );
    } finally {
      await c.release();
      await r.release();
    }
    // Offline, everything now comes from the cache.
    assertEquals((await ensureModel("clip-rn50-immich", { ...opts, offline: true })).path, clip.path);
  });
});

Deno.test("offline with an empty cache names every missing file and how to get them, in one line", async () => {
  const cacheDir = await tempDir();
  try {
    await rejects(
      ensureModel("clip-rn50", { endpoint: "http://127.0.0.1:9", cacheDir, offline: true }),
      (e: Error) =>
        e instanceof ClipcmpError && !e.message.includes("\n") &&
        /Model clip-rn50 \(timm\/resnet50_clip.openai\) is not in the cache .* \(missing open_clip_model.safetensors, open_clip_config.json, tokenizer.json\) and --offline forbids downloading it; run once online, or pass a local model with --clip DIR/
          .test(e.message),
    );
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("compare and zeroshot run the ONNX alternatives from a populated cache with --offline and their declared flags", async () => {
  await withCache(async (opts) => {
    await ensureModel("clip-rn50-immich", opts);
    await ensureModel("resnet50-qualcomm", opts);
    const cmp = await runTaskCli("compare", [
      "--clip",
      "clip-rn50-immich",
      "--resnet",
      "resnet50-qualcomm",
      "--offline",
      "--cache-dir",
      opts.cacheDir,
      "--device",
      "wasm",
      "--no-report",
      "--json",
      "data/samples/photo",
    ]);
    assertEquals(cmp.code, 0, cmp.stderr);
    const doc = JSON.parse(cmp.stdout);
    assert(doc.provenance.models.clip.dir.startsWith(opts.cacheDir));
    assert(doc.provenance.models.resnet.path.endsWith("ResNet50_float.onnx/model.onnx"));
    const zs = await runTaskCli("zeroshot", [
      "--clip",
      "clip-rn50-immich",
      "--offline",
      "--cache-dir",
      opts.cacheDir,
      "--device",
      "wasm",
      "--labels",
      "cat,dog",
      "--json",
      "data/samples/photo/n02128385_leopard.jpg",
    ]);
    assertEquals(zs.code, 0, zs.stderr);
    assertEquals(JSON.parse(zs.stdout).results.length, 1);
  });
});

Deno.test("a manifest name that is not cached, offline, fails with exit 1 and one line", async () => {
  const cacheDir = await tempDir();
  try {
    const run = await runTaskCli("compare", [
      "--clip",
      "clip-vit-b32",
      "--offline",
      "--cache-dir",
      cacheDir,
      "--no-report",
    ]);
    assertEquals(run.code, 1);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert(/Model clip-vit-b32 \(immich-app\/ViT-B-32__openai\) is not in the cache/.test(run.stderr));
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});
