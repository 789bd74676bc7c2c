import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { classify, zeroShot } from "../mod.ts";
import { softmaxCpu, topK } from "../lib/math/cpu.ts";
import { FIX, HAS_GPU, refs, ROOT } from "./_helpers.ts";
import { UsageError } from "../lib/errors.ts";

const images = refs.images.slice(0, 3).map((p) => `${ROOT}/${p}`);

for (const [device, ignore] of [["wasm", false], ["webgpu", !HAS_GPU]] as const) {
  Deno.test({
    name: `classify() on ${device} returns sorted { label, index, score } lists matching the PyTorch logits`,
    ignore,
    fn: async () => {
      const res = await classify(images, { model: `${FIX}/resnet-tiny`, device, topK: 5 });
      assertEquals(res.length, 3);
      res.forEach((top, i) => {
        const p = softmaxCpu(refs.resnet.logits[i]!, 1, 1000, 1);
        assertEquals(top.map((s) => s.index), topK(p, 5));
        top.forEach((s) => assert(Math.abs(s.score - p[s.index]!) < 1e-4));
        for (let j = 1; j < top.length; j++) assert(top[j - 1]!.score >= top[j]!.score);
      });
    },
  });
  Deno.test({
    name: `zeroShot() on ${device} gives softmax(100 cos) over the caller's labels, indexed by position`,
    ignore,
    fn: async () => {
      const labels = refs.labels.map((l) => l.name);
      const res = await zeroShot(images, labels, { model: `${FIX}/clip-tiny`, device, topK: 3 });
      res.forEach((top, i) => {
        const p = softmaxCpu(refs.clip.logits[i]!, 1, 10, 1);
        assertEquals(top.map((s) => s.index), topK(p, 3));
        assertEquals(top.map((s) => s.label), topK(p, 3).map((j) => labels[j]));
        top.forEach((s) => assert(Math.abs(s.score - p[s.index]!) < 1e-4));
      });
    },
  });
}

Deno.test("the API refuses bad topK, empty labels and templates without {}", async () => {
  await rejects(classify(images, { model: `${FIX}/resnet-tiny`, device: "wasm", topK: 0 }), UsageError);
  await rejects(zeroShot(images, [], { model: `${FIX}/clip-tiny`, device: "wasm" }), UsageError);
  await rejects(
    zeroShot(images, ["a"], { model: `${FIX}/clip-tiny`, device: "wasm", templates: ["no slot"] }),
    UsageError,
  );
});

Deno.test("mod.ts imports into a scratch project with no import map: load once, classify twice, a manifest name, every input kind, fp16", async () => {
  const { immichHubFiles, startHub } = await import("./_hub_server.ts");
  const { tempDir } = await import("./_helpers.ts");
  const hub = startHub(immichHubFiles());
  const dir = await tempDir();
  try {
    const photo = `${ROOT}/data/samples/photo/n02128385_leopard.jpg`;
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { imageClassifier, zeroShotClassifier } from ${JSON.stringify(`${ROOT}/mod.ts`)};
const photo = ${JSON.stringify(photo)};
const labels = ["leopard", "tiger", "bald eagle"];
const opts = { device: "wasm", hubUrl: ${JSON.stringify(hub.endpoint)}, cacheDir: "${dir}/cache" } as const;
const out: Record<string, unknown> = {};
{
  await using clf = await zeroShotClassifier("clip-rn50-immich", opts);
  out.name = clf.modelName;
  out.first = await clf([photo], labels);
  const bytes = await Deno.readFile(photo);
  out.second = await clf([bytes, new Blob([bytes]), new URL("file://" + photo)], labels);
  await using half = await zeroShotClassifier("clip-rn50-immich", { ...opts, dtype: "fp16" });
  out.fp16 = await half([photo], labels);
}
{
  await using resnet = await imageClassifier(${JSON.stringify(`${FIX}/resnet-tiny`)}, { device: "wasm" });
  out.resnet = [await resnet([photo], { topK: 3 }), await resnet([photo], { topK: 3 })];
}
console.log(JSON.stringify(out));
`,
    );
    const run = await new Deno.Command("deno", {
      args: [
        "run",
        "--no-config",
        "--allow-read",
        `--allow-write=${dir}`,
        "--allow-net=127.0.0.1",
        "--allow-env",
        "main.ts",
      ],
      cwd: dir,
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assertEquals(run.code, 0, stderr);
    const out = JSON.parse(new TextDecoder().decode(run.stdout));
    assertEquals(out.name, "clip-rn50-immich");
    const first = out.first[0] as { label: string; score: number }[];
    assertEquals(first.length, 3);
    for (let j = 1; j < first.length; j++) assert(first[j - 1]!.score >= first[j]!.score);
    // Bytes, a Blob and a file: URL of the same photo give the same scores as its path, on the same loaded model.
    for (const r of out.second) {
      assertEquals(r.map((s: { label: string }) => s.label), first.map((s) => s.label));
      r.forEach((s: { score: number }, j: number) => assert(Math.abs(s.score - first[j]!.score) < 1e-6));
    }
    assertEquals(out.fp16[0][0].label, first[0]!.label);
    assertEquals(out.resnet[0], out.resnet[1]);
    assert(hub.log.some((l) => l.startsWith("GET /cdn/")), "the manifest model was downloaded from the hub");
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
