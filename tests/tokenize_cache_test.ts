import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ensureModel } from "../lib/models/manifest.ts";
import { refs, runTaskCli, tempDir } from "./_helpers.ts";
import { startHub } from "./_hub_server.ts";
import { FIX } from "./_helpers.ts";

Deno.test("tokenize --json gives the reference ids, padded to 77, with the shipped tokenizer", async () => {
  const texts = refs.tokenizer.map((t) => t.text).filter((t) => t !== "").slice(0, 10);
  const run = await runTaskCli("tokenize", ["--json", ...texts]);
  assertEquals(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert(doc.tokenizer.endsWith("models/clip-tokenizer/tokenizer.json"));
  doc.results.forEach((r: { text: string; ids: number[] }, i: number) => {
    assertEquals(r.text, texts[i]);
    assertEquals(r.ids, refs.tokenizer.find((t) => t.text === texts[i])!.ids);
    assertEquals(r.ids.length, 77);
  });
});

Deno.test("tokenize warns about a text over 77 tokens and keeps <|endoftext|> last", async () => {
  const run = await runTaskCli("tokenize", ["--json", "word ".repeat(100)]);
  assertEquals(run.code, 0, run.stderr);
  assert(/warning: .* is over 77 tokens; truncated/.test(run.stderr));
  const ids = JSON.parse(run.stdout).results[0].ids;
  assertEquals([ids.length, ids[0], ids[76]], [77, 49406, 49407]);
});

Deno.test("tokenize --clip DIR uses that model's tokenizer.json; errors are one line", async () => {
  const run = await runTaskCli("tokenize", ["--clip", "models/fixtures/clip-tiny", "--json", "a photo of a dog."]);
  assertEquals(run.code, 0, run.stderr);
  assert(JSON.parse(run.stdout).tokenizer.includes("clip-tiny/textual/tokenizer.json"));
  const missing = await runTaskCli("tokenize", ["--clip", "models/fixtures/nope", "x"]);
  assertEquals(missing.code, 1);
  assert(
    /Cannot read tokenizer "models\/fixtures\/nope\/textual\/tokenizer.json": file not found/.test(missing.stderr),
    missing.stderr,
  );
  const none = await runTaskCli("tokenize", []);
  assertEquals(none.code, 2);
});

Deno.test("cache lists cached files with sizes and hashes, and --clear empties it", async () => {
  const home = await tempDir();
  const env = { HOME: home, XDG_CACHE_HOME: "", CLIPCMP_CACHE_DIR: "" };
  const hub = startHub({
    "qualcomm/ResNet50/ResNet50_float.onnx.zip": Deno.readFileSync(`${FIX}/hub/ResNet50_float.onnx.zip`),
  });
  try {
    const cacheDir = `${home}/.cache/clipcmp`;
    await ensureModel("resnet50-qualcomm", {
      endpoint: hub.endpoint,
      cacheDir,
      offline: false,
      progress: () => ({ update() {}, finish() {} }),
    });
    const list = await runTaskCli("cache", ["--json"], env);
    assertEquals(list.code, 0, list.stderr);
    const doc = JSON.parse(list.stdout);
    assertEquals(doc.dir, cacheDir);
    const zip = doc.files.find((f: { path: string }) =>
      f.path === "hub/qualcomm--ResNet50/v0.43.0/ResNet50_float.onnx.zip"
    );
    assert(zip && /^[0-9a-f]{64}$/.test(zip.sha256) && zip.size > 100_000, JSON.stringify(doc.files));
    const human = await runTaskCli("cache", [], env);
    assert(human.stdout.includes("ResNet50_float.onnx.zip") && /file\(s\), [\d.]+ KB/.test(human.stdout), human.stdout);
    const clear = await runTaskCli("cache", ["--clear"], env);
    assertEquals(clear.code, 0, clear.stderr);
    assert(/cleared .*: \d+ file\(s\)/.test(clear.stderr));
    assertEquals(JSON.parse((await runTaskCli("cache", ["--json"], env)).stdout).files, []);
  } finally {
    await hub.close();
    await Deno.remove(home, { recursive: true });
  }
});
