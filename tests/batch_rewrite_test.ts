import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { rewriteBatchDynamic } from "../lib/onnx/batch.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { loadOrt } from "../lib/ort/runtime.ts";
import { rowsToHost } from "../lib/scoring.ts";
import { FIX, maxAbsDiff, refs } from "./_helpers.ts";

Deno.test("rewriteBatchDynamic() turns the batch-1 text fixture into a dynamic-batch graph with identical outputs", async () => {
  const src = await Deno.readFile(`${FIX}/clip-tiny/textual/model.onnx`);
  const r = rewriteBatchDynamic(src);
  assertEquals([r.reshapes, r.ranges], [4, 1]); // [1,77,2,8] x3 and [1,77,16]; the folded arange(1)
  const ort = await loadOrt();
  const one = await ort.InferenceSession.create(src, { executionProviders: ["wasm"], logSeverityLevel: 3 });
  const many = await ort.InferenceSession.create(r.model, { executionProviders: ["wasm"], logSeverityLevel: 3 });
  try {
    assertEquals([...(many.inputMetadata[0] as { shape: readonly (string | number)[] }).shape], ["batch", 77]);
    const ids = refs.clip.text_ids.slice(0, 4);
    const batch = await many.run({ text: new ort.Tensor("int32", Int32Array.from(ids.flat()), [4, 77]) });
    const got = (await batch.embedding!.getData()) as Float32Array;
    for (let i = 0; i < 4; i++) {
      const single = await one.run({ text: new ort.Tensor("int32", Int32Array.from(ids[i]!), [1, 77]) });
      const want = (await single.embedding!.getData()) as Float32Array;
      assert(maxAbsDiff(got.subarray(i * 1024, (i + 1) * 1024), want) < 1e-6, `prompt ${i}`);
    }
  } finally {
    await one.release();
    await many.release();
  }
});

Deno.test("ClipModel.load() uses the rewritten text graph only after verifying it, and can be told not to", async () => {
  const notes: string[] = [];
  const rewritten = await ClipModel.load(`${FIX}/clip-tiny`, { ep: "wasm", log: (l) => notes.push(l) });
  const plain = await ClipModel.load(`${FIX}/clip-tiny`, { ep: "wasm", batchRewrite: false });
  try {
    assertEquals(rewritten.textBatch, null);
    assert(notes.some((n) => /batch rewritten from 1 to dynamic \(outputs verified/.test(n)), notes.join("\n"));
    assertEquals(plain.textBatch, 1);
    const a = await rowsToHost((await rewritten.encodeTexts(refs.clip.prompts)).rows);
    const b = await rowsToHost((await plain.encodeTexts(refs.clip.prompts)).rows);
    assert(maxAbsDiff(a, b) < 1e-6);
    assert(maxAbsDiff(a, Float32Array.from(refs.clip.text_embeddings.flat())) < 1e-4);
  } finally {
    await rewritten.release();
    await plain.release();
  }
});
