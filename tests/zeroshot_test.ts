import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { softmaxCpu, topK } from "../lib/math/cpu.ts";
import { buildHead } from "../lib/zeroshot.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { releaseRows, rowsToHost } from "../lib/scoring.ts";
import { FIX, HAS_GPU, maxAbsDiff, refs, runTaskCli, tempDir } from "./_helpers.ts";
import { schemaValidator } from "./_schema.ts";

const validate = await schemaValidator("zeroshot");
const LABELS = refs.labels.map((l) => l.name);
const BASE = ["--clip", "models/fixtures/clip-tiny", "--labels", LABELS.join(","), "--top-k", "10", "--json"];

interface Doc {
  labels: { label: string; index: number }[];
  results: { path: string; top_k: { label: string; index: number; score: number }[] }[];
  provenance: { logit_scale: number; templates: string[] };
  summary: { n: number; skipped: number };
  skipped: { path: string; reason: string }[];
}

async function zeroshot(args: string[]): Promise<Doc> {
  const run = await runTaskCli("zeroshot", args);
  assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
  const doc = JSON.parse(run.stdout);
  assert(validate(doc), validate.errors);
  return doc;
}

/** softmax(scale * cos) from PyTorch's reference cosines, independent of the code under test. */
function reference(scale: number): Float64Array {
  const cos = refs.clip.logits.flat().map((x) => x / 100);
  return softmaxCpu(cos, 10, 10, scale);
}

for (const [device, ignore] of [["wasm", false], ["webgpu", !HAS_GPU]] as const) {
  Deno.test({
    name: `zeroshot --device ${device} gives softmax(100 * cos) matching the PyTorch reference`,
    ignore,
    fn: async () => {
      const doc = await zeroshot([...refs.images, ...BASE, "--device", device]);
      assertEquals(doc.provenance.logit_scale, 100);
      const want = reference(100);
      doc.results.forEach((r, i) => {
        const row = want.subarray(i * 10, i * 10 + 10);
        assertEquals(r.top_k.map((s) => s.index), topK(row, 10), r.path);
        r.top_k.forEach((s) => assert(Math.abs(s.score - row[s.index]!) < 1e-4, `${r.path} ${s.label}`));
        assertEquals(r.top_k.map((s) => s.label), topK(row, 10).map((j) => LABELS[j]));
      });
    },
  });
}

Deno.test("zeroshot --no-logit-scale shows the seed's near-uniform probabilities", async () => {
  const doc = await zeroshot([...refs.images.slice(0, 3), ...BASE, "--device", "wasm", "--no-logit-scale"]);
  assertEquals(doc.provenance.logit_scale, 1);
  const want = reference(1);
  doc.results.forEach((r, i) => {
    r.top_k.forEach((s) => assert(Math.abs(s.score - want[i * 10 + s.index]!) < 1e-5));
    assert(r.top_k[0]!.score < 0.2, "softmax of raw cosines should be nearly flat over 10 labels");
  });
});

Deno.test("zeroshot --imagenet scores the 1000 CLIP names with ImageNet indices; seed-format labels keep theirs", async () => {
  const doc = await zeroshot([
    refs.images[0]!,
    "--clip",
    "models/fixtures/clip-tiny",
    "--imagenet",
    "--json",
    "--device",
    "wasm",
  ]);
  assertEquals(doc.labels.length, 1000);
  assertEquals(doc.labels[288], { label: "leopard", index: 288 });
  const dir = await tempDir();
  try {
    const file = `${dir}/imagenet1000_clsidx_to_labels.txt`;
    await Deno.writeTextFile(
      file,
      "{22: 'bald eagle, American eagle, Haliaeetus leucocephalus',\n 288: 'leopard, Panthera pardus',\n 71: 'scorpion'}\n",
    );
    const seed = await zeroshot([
      refs.images[0]!,
      "--clip",
      "models/fixtures/clip-tiny",
      "--labels-file",
      file,
      "--json",
      "--device",
      "wasm",
    ]);
    assertEquals(seed.labels, [{ label: "bald eagle", index: 22 }, { label: "leopard", index: 288 }, {
      label: "scorpion",
      index: 71,
    }]);
    assert(seed.results[0]!.top_k.every((s) => [22, 288, 71].includes(s.index)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the zero-shot head is the normalised mean of each template's normalised embedding", async () => {
  const clip = await ClipModel.load(`${FIX}/clip-tiny`, { ep: "wasm" });
  try {
    const templates = ["a photo of a {}.", "a sketch of a {}.", "itap of a {}."];
    const head = await buildHead(clip, ["leopard", "axolotl"], templates);
    const parts = await clip.encodeTexts(
      ["leopard", "axolotl"].flatMap((l) => templates.map((t) => t.replace("{}", l))),
    );
    const e = await rowsToHost(parts.rows);
    const d = clip.dim;
    const want = new Float64Array(2 * d);
    for (let c = 0; c < 2; c++) {
      for (let t = 0; t < 3; t++) {
        const row = e.subarray((c * 3 + t) * d, (c * 3 + t + 1) * d);
        const n = Math.hypot(...row);
        for (let q = 0; q < d; q++) want[c * d + q] = want[c * d + q]! + row[q]! / n;
      }
      const n = Math.hypot(...want.subarray(c * d, (c + 1) * d));
      for (let q = 0; q < d; q++) want[c * d + q] = want[c * d + q]! / n;
    }
    const got = await rowsToHost(head.rows);
    assert(maxAbsDiff(got, want) < 1e-6);
    releaseRows(head.rows);
  } finally {
    await clip.release();
  }
});

Deno.test("zeroshot --templates simple7 averages seven prompts per label", async () => {
  const doc = await zeroshot([refs.images[0]!, ...BASE, "--device", "wasm", "--templates", "simple7"]);
  assertEquals(doc.provenance.templates.length, 7);
  const sum = doc.results[0]!.top_k.reduce((a, s) => a + s.score, 0);
  assert(Math.abs(sum - 1) < 1e-4, `10 of 10 labels should sum to 1, got ${sum}`);
});

Deno.test("zeroshot warns about a prompt over 77 tokens and truncates it, also when the head is cached", async () => {
  const home = await tempDir();
  const long = "a photo of a {} " + "very ".repeat(90);
  try {
    for (const expect of [/zero-shot head: cached/, /zero-shot head: cache hit/]) {
      const run = await runTaskCli("zeroshot", [
        refs.images[0]!,
        "--clip",
        "models/fixtures/clip-tiny",
        "--labels",
        "cat,dog",
        "--template",
        long,
        "--device",
        "wasm",
      ], { HOME: home });
      assertEquals(run.code, 0, run.stderr);
      assert(expect.test(run.stderr), run.stderr);
      assert(/warning: prompt over 77 tokens, truncated/.test(run.stderr), run.stderr);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("zeroshot skips undecodable images, lists them and exits 0", async () => {
  const doc = await zeroshot([refs.images[0]!, "models/fixtures/decode/rgba.png.rgb", ...BASE, "--device", "wasm"]);
  assertEquals([doc.summary.n, doc.summary.skipped], [1, 1]);
  assert(/not a JPEG or PNG/.test(doc.skipped[0]!.reason));
});

for (
  const [args, code, pattern] of [
    [["x.jpg", "--labels", "a,b", "--imagenet"], 2, /--labels and --imagenet exclude each other/],
    [["x.jpg", "--template", "a {}", "--templates", "clip80"], 2, /--template and --templates exclude each other/],
    [["x.jpg", "--template", "no placeholder"], 2, /--template must contain \{\}/],
    [["x.jpg", "--labels", "cat,,dog"], 2, /--labels: label 2 is empty/],
    [["x.jpg", "--labels", "cat,dog,Cat"], 2, /"Cat" appears twice/],
    [["x.jpg", "--top-k", "11"], 2, /--top-k must be an integer from 1 to 10/],
    [["--labels", "a,b"], 2, /give at least one image/],
    [["x.jpg", "--templates", "nope.txt"], 1, /--templates "nope.txt": not clip80, simple7 or an existing file/],
    [["x.jpg", "--labels-file", "nope.txt"], 1, /--labels-file "nope.txt": file not found/],
  ] as [string[], number, RegExp][]
) {
  Deno.test(`zeroshot ${args.join(" ")} fails with exit ${code} and one line`, async () => {
    const run = await runTaskCli("zeroshot", [...args, "--clip", "models/fixtures/clip-tiny"]);
    assertEquals(run.code, code, run.stderr);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert(pattern.test(run.stderr), run.stderr);
  });
}

Deno.test("the zero-shot head is cached on disk, reused on a second run, and rebuilt when templates change", async () => {
  const home = await tempDir();
  const env = { HOME: home, XDG_CACHE_HOME: "", CLIPCMP_CACHE_DIR: "" };
  const args = [
    refs.images[0]!,
    "--clip",
    "models/fixtures/clip-tiny",
    "--labels",
    LABELS.join(","),
    "--device",
    "wasm",
    "--json",
  ];
  try {
    const first = await runTaskCli("zeroshot", args, env);
    assertEquals(first.code, 0, first.stderr);
    assert(/zero-shot head: cached .*\/heads\/[0-9a-f]{64}\.npy/.test(first.stderr), first.stderr);
    const second = await runTaskCli("zeroshot", args, env);
    assert(/zero-shot head: cache hit /.test(second.stderr), second.stderr);
    assertEquals(JSON.parse(second.stdout).results, JSON.parse(first.stdout).results);
    const other = await runTaskCli("zeroshot", [...args, "--templates", "simple7"], env);
    assert(/zero-shot head: cached /.test(other.stderr) && !/cache hit/.test(other.stderr), other.stderr);
    const heads = [...Deno.readDirSync(`${home}/.cache/clipcmp/heads`)].filter((e) => e.name.endsWith(".npy"));
    assertEquals(heads.length, 2);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("an unwritable head cache costs a warning, not the run", async () => {
  const run = await runTaskCli("zeroshot", [
    refs.images[0]!,
    "--clip",
    "models/fixtures/clip-tiny",
    "--labels",
    "cat,dog",
    "--device",
    "wasm",
    "--cache-dir",
    "/proc/clipcmp-cache",
  ]);
  assertEquals(run.code, 0, run.stderr);
  assert(/warning: could not cache the zero-shot head in \/proc\/clipcmp-cache/.test(run.stderr), run.stderr);
});

Deno.test("zeroshot --dtype fp16 says its self-test passed and matches fp32 within fp16 rounding", async () => {
  const run = await runTaskCli("zeroshot", [
    ...refs.images.slice(0, 3),
    ...BASE,
    "--device",
    "wasm",
    "--dtype",
    "fp16",
  ]);
  assertEquals(run.code, 0, run.stderr);
  assert(/fp16 self-test passed for models\/fixtures\/clip-tiny on 3 images/.test(run.stderr), run.stderr);
  const doc = JSON.parse(run.stdout);
  assert(validate(doc), validate.errors);
  assertEquals(doc.provenance.dtype, "fp16");
  const want = reference(100);
  doc.results.forEach((r: Doc["results"][number], i: number) => {
    r.top_k.forEach((s) => assert(Math.abs(s.score - want[i * 10 + s.index]!) < 0.02, `${r.path} ${s.label}`));
  });
});
