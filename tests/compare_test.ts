import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { CompareDocument } from "../lib/compare.ts";
import { softmaxCpu, topK } from "../lib/math/cpu.ts";
import { HAS_GPU, refs, ROOT, runTaskCli, tempDir } from "./_helpers.ts";
import { schemaValidator } from "./_schema.ts";

const validate = await schemaValidator("compare");

const FIXTURES = ["--clip", "models/fixtures/clip-tiny", "--resnet", "models/fixtures/resnet-tiny", "--no-report"];
const PHOTOS = "data/samples/photo";

async function compareJson(device: "wasm" | "webgpu", extra: string[] = []): Promise<CompareDocument> {
  const run = await runTaskCli("compare", [...FIXTURES, PHOTOS, "--device", device, "--json", ...extra]);
  assert(run.code === 0, `exit ${run.code}: ${run.stderr}`);
  const doc: CompareDocument = JSON.parse(run.stdout);
  assert(validate(doc), validate.errors);
  return doc;
}

/** Expected top-5 straight from the PyTorch reference outputs, independent of the code under test. */
function expected() {
  const set = refs.labels.map((l) => l.index).sort((a, b) => a - b);
  const byIndex = new Map(refs.labels.map((l, i) => [l.index, i]));
  return refs.images.map((_, i) => {
    // refs.clip.logits columns follow refs.labels order; reorder to the label set's index order.
    const clipLogits = set.map((idx) => refs.clip.logits[i]![byIndex.get(idx)!]!);
    const clipP = softmaxCpu(clipLogits, 1, set.length, 1);
    const resAll = refs.resnet.logits[i]!;
    const resP = softmaxCpu(resAll, 1, 1000, 1, set);
    const allP = softmaxCpu(resAll, 1, 1000, 1);
    return {
      clip: topK(clipP, 5).map((j) => ({ index: set[j]!, score: clipP[j]! })),
      resnet: topK(resP, 5).map((j) => ({ index: set[j]!, score: resP[j]! })),
      all: topK(allP, 5).map((j) => ({ index: j, score: allP[j]! })),
    };
  });
}

function checkAgainstReference(doc: CompareDocument) {
  const exp = expected();
  assertEquals(doc.results.map((r) => r.path), refs.images);
  assertEquals(doc.label_set.map((l) => l.index), refs.labels.map((l) => l.index).sort((a, b) => a - b));
  doc.results.forEach((r, i) => {
    const e = exp[i]!;
    assertEquals(r.clip!.top5.map((s) => s.index), e.clip.map((s) => s.index), `${r.path} CLIP`);
    assertEquals(r.resnet!.top5.map((s) => s.index), e.resnet.map((s) => s.index), `${r.path} ResNet`);
    assertEquals(r.resnet!.top5_1000.map((s) => s.index), e.all.map((s) => s.index), `${r.path} ResNet 1000`);
    r.clip!.top5.forEach((s, k) => assert(Math.abs(s.score - e.clip[k]!.score) < 2e-3, `${r.path} CLIP score ${k}`));
    r.resnet!.top5.forEach((s, k) =>
      assert(Math.abs(s.score - e.resnet[k]!.score) < 2e-3, `${r.path} ResNet score ${k}`)
    );
  });
  // Accuracies are recomputed from the per-image results.
  const n = doc.results.length;
  const hit = (pick: (r: CompareDocument["results"][number]) => { index: number }[], k: number) =>
    doc.results.filter((r) => pick(r).slice(0, k).some((s) => s.index === r.true.index)).length / n;
  assertEquals(doc.summary.clip!.top1, hit((r) => r.clip!.top5, 1));
  assertEquals(doc.summary.clip!.top5, hit((r) => r.clip!.top5, 5));
  assertEquals(doc.summary.resnet!.top1, hit((r) => r.resnet!.top5, 1));
  assertEquals(doc.summary.resnet_1000!.top5, hit((r) => r.resnet!.top5_1000, 5));
  assertEquals(doc.domains.map((d) => [d.domain, d.n]), [["images", 10]]);
  assertEquals(doc.summary.n, 10);
}

Deno.test("compare --device wasm --json validates against the schema and matches the PyTorch references", async () => {
  const doc = await compareJson("wasm");
  assertEquals(doc.provenance.ep, "wasm");
  assert(/^[0-9a-f]{64}$/.test(doc.provenance.models.resnet!.sha256));
  checkAgainstReference(doc);
});

Deno.test({
  name: "compare --device webgpu agrees with --device wasm on every top-5",
  ignore: !HAS_GPU,
  fn: async () => {
    const [gpu, cpu] = [await compareJson("webgpu"), await compareJson("wasm")];
    assertEquals(gpu.provenance.ep, "webgpu");
    assert(gpu.provenance.adapter !== null);
    checkAgainstReference(gpu);
    gpu.results.forEach((r, i) => {
      const c = cpu.results[i]!;
      assertEquals(r.clip!.top5.map((s) => s.index), c.clip!.top5.map((s) => s.index));
      assertEquals(r.resnet!.top5.map((s) => s.index), c.resnet!.top5.map((s) => s.index));
      assertEquals(r.resnet!.top5_1000.map((s) => s.index), c.resnet!.top5_1000.map((s) => s.index));
    });
    assertEquals(gpu.summary, cpu.summary);
  },
});

Deno.test("compare --per-image prints per-image tables, then one line per domain per model", async () => {
  const run = await runTaskCli("compare", [...FIXTURES, PHOTOS, "--device", "wasm", "--per-image"]);
  assertEquals(run.code, 0, run.stderr);
  assert(run.stdout.includes("[1/10] data/samples/photo/n01614925_bald_eagle.jpg  (images)  true: bald eagle (#22)"));
  assert(run.stdout.includes("CLIP (10 labels)"));
  assert(run.stdout.includes("ResNet (all 1000 classes)"));
  assert(/images +clip-tiny zero-shot +n=10 +top-1 +\d+\.\d%/.test(run.stdout), run.stdout);
  assert(run.stderr.includes("device: wasm (requested"));
});

Deno.test("compare with only --resnet runs only ResNet, and the JSON says so", async () => {
  const run = await runTaskCli("compare", [
    "--resnet",
    "models/fixtures/resnet-tiny-dyn",
    "data/samples/photo",
    "--no-report",
    "--device",
    "wasm",
    "--json",
  ]);
  assertEquals(run.code, 0, run.stderr);
  const doc: CompareDocument = JSON.parse(run.stdout);
  assert(validate(doc), validate.errors);
  assertEquals(doc.provenance.models.clip, null);
  assertEquals(doc.summary.clip, null);
  assert(doc.results.every((r) => r.clip === null));
});

Deno.test("compare skips inputs it cannot use, lists them, and still exits 0", async () => {
  const dir = await tempDir();
  try {
    await Deno.copyFile(`${ROOT}/${refs.images[0]}`, `${dir}/${refs.images[0]!.split("/").pop()}`);
    await Deno.writeTextFile(`${dir}/n01632777_not_really.jpg`, "this is text");
    await Deno.copyFile(`${ROOT}/${refs.images[1]}`, `${dir}/no_wnid_here.jpg`);
    const run = await runTaskCli("compare", [...FIXTURES, "--device", "wasm", "--json", dir]);
    assertEquals(run.code, 0, run.stderr);
    const doc: CompareDocument = JSON.parse(run.stdout);
    assert(validate(doc), validate.errors);
    assertEquals(doc.summary.n, 1);
    assertEquals(doc.summary.skipped, 2);
    const reasons = Object.fromEntries(doc.skipped.map((s) => [s.path.split("/").pop(), s.reason]));
    assert(/not a JPEG or PNG/.test(reasons["n01632777_not_really.jpg"]), reasons["n01632777_not_really.jpg"]);
    assert(/cannot tell its class/.test(reasons["no_wnid_here.jpg"]));
    assertEquals(doc.label_set.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compare --offline with no cached model exits 1 with a one-line explanation", async () => {
  const dir = await tempDir();
  try {
    const run = await runTaskCli("compare", ["--offline", "--cache-dir", dir]);
    assertEquals(run.code, 1);
    const lines = run.stderr.trim().split("\n");
    assertEquals(lines.length, 1, run.stderr);
    assert(
      /not in the cache .* --offline forbids downloading it; run once online, or pass a local model with --clip DIR/
        .test(lines[0]!),
      lines[0],
    );
    assertEquals(run.stdout, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (
  const [args, pattern] of [
    [["--device", "gpu"], /--device must be auto, webgpu or wasm, got "gpu"/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["--template", "no placeholder"], /--template must contain \{\}/],
    [["--dtype", "int8"], /--dtype must be fp32 or fp16/],
    [["--resnet-input", "unit"], /--resnet-input needs --resnet/],
  ] as [string[], RegExp][]
) {
  Deno.test(`compare ${args.join(" ")} is a usage error: exit 2 and one line`, async () => {
    const run = await runTaskCli("compare", args);
    assertEquals(run.code, 2);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert(pattern.test(run.stderr), run.stderr);
  });
}

Deno.test("compare names a missing model file in one line and exits 1", async () => {
  const run = await runTaskCli("compare", ["--resnet", "models/fixtures/nope.onnx", "--device", "wasm"]);
  assertEquals(run.code, 1);
  assert(/--resnet "models\/fixtures\/nope.onnx": no such file or directory/.test(run.stderr), run.stderr);
});

Deno.test("compare --dtype fp16 runs converted models after the self-test, and agrees with fp32", async () => {
  const [half, full] = [await compareJson("wasm", ["--dtype", "fp16"]), await compareJson("wasm")];
  assertEquals(half.provenance.dtype, "fp16");
  assert(half.provenance.models.clip!.visual.path.includes("/fp16/"), half.provenance.models.clip!.visual.path);
  assert(half.provenance.models.resnet!.path.includes("/fp16/"));
  for (const k of ["clip", "resnet"] as const) {
    const same = half.results.filter((r, i) =>
      r[k]!.top5.map((s) => s.index).join() === full.results[i]![k]!.top5.map((s) => s.index).join()
    );
    assert(same.length >= 9, `${k}: ${same.length} of 10 top-5 lists agree`);
  }
});
