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
