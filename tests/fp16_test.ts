import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { convertToFp16, DEFAULT_FP16_BLOCK_LIST } from "../lib/onnx/fp16.ts";
import { readFields } from "../lib/onnx/proto.ts";
import { agreement, fp16SelfCheck, spearman } from "../lib/fp16.ts";
import { trackMemory } from "../lib/gpu/memory.ts";
import { loadOrt } from "../lib/ort/runtime.ts";
import { FIX, HAS_F16, HAS_GPU, maxAbsDiff, refs, runTaskCli, sharedGpu } from "./_helpers.ts";
import { schemaValidator } from "./_schema.ts";

const validate = await schemaValidator("fp16");
const text = (b?: Uint8Array) => new TextDecoder().decode(b);

/** Initializer data types and the ops of the main graph, read straight from the protobuf. */
function inspect(model: Uint8Array) {
  const graph = readFields(readFields(model).find((f) => f.field === 7)!.bytes!);
  const types = graph.filter((f) => f.field === 5).map((f) => readFields(f.bytes!).find((g) => g.field === 2)!.value!);
  const nodes = graph.filter((f) => f.field === 1).map((f) => {
    const fs = readFields(f.bytes!);
    return {
      op: text(fs.find((g) => g.field === 4)?.bytes),
      inputs: fs.filter((g) => g.field === 1).map((g) => text(g.bytes)),
    };
  });
  return { types, nodes };
}

async function run(
  model: Uint8Array,
  feed: Record<string, { type: string; data: Float32Array | Int32Array; dims: number[] }>,
) {
  const ort = await loadOrt();
  const s = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], logSeverityLevel: 3 });
  const feeds = Object.fromEntries(
    Object.entries(feed).map(([k, v]) => [k, new ort.Tensor(v.type as "float32", v.data, v.dims)]),
  );
  const out = await s.run(feeds);
  const meta = s.outputMetadata[0] as { name: string; type: string };
  const data = (await out[meta.name]!.getData()) as Float32Array;
  await s.release();
  return { data, type: meta.type };
}

const image = {
  image_tensor: {
    type: "float32",
    data: Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => (Math.sin(i) + 1) / 2),
    dims: [1, 3, 224, 224],
  },
};

Deno.test("convertToFp16() stores float initializers as float16, keeps fp32 IO, and the model loads and agrees", async () => {
  const src = await Deno.readFile(`${FIX}/resnet-tiny/model.onnx`);
  const { model, stats } = convertToFp16(src);
  const { types, nodes } = inspect(model);
  assert(types.every((t) => t === 10), `initializer types ${types}`);
  assertEquals(stats.convertedInitializers, types.length);
  assert(model.length < src.length * 0.55, `${model.length} vs ${src.length}`);
  assertEquals(nodes[0]!.op, "Cast"); // input cast to fp16
  assertEquals(nodes.at(-1)!.op, "Cast"); // output cast back to fp32
  const a = await run(src, image);
  const b = await run(model, image);
  assertEquals(b.type, "float32");
  // Fixture logits span about ±45; fp16 keeps 11 significant bits.
  assert(maxAbsDiff(a.data, b.data) < 0.1, `max |Δlogit| ${maxAbsDiff(a.data, b.data)}`);
});

Deno.test("block-listed ops stay in fp32 behind Casts, and their int inputs are left alone", async () => {
  const src = await Deno.readFile(`${FIX}/clip-tiny/textual/model.onnx`);
  const { model, stats } = convertToFp16(src);
  const { nodes } = inspect(model);
  const ln = nodes.filter((n) => n.op === "LayerNormalization");
  assert(ln.length > 0 && stats.blockedNodes >= ln.length);
  // Every LayerNormalization reads float32 tensors: each data input comes from a Cast to fp32 or an fp32 initializer.
  const castOutputs = new Set(
    nodes.filter((n) => n.op === "Cast").flatMap((n) => n.inputs.length ? [n.inputs[0]] : []),
  );
  assert(castOutputs.size > 0);
  for (const n of ln) assert(n.inputs[0]!.includes("__fp32_"), `LayerNormalization input ${n.inputs[0]}`);
  const ids = new Int32Array(77);
  ids.set(refs.clip.text_ids[0]!.slice(0, 8));
  const a = await run(src, { text: { type: "int32", data: ids, dims: [1, 77] } });
  const b = await run(model, { text: { type: "int32", data: ids, dims: [1, 77] } });
  assert(maxAbsDiff(a.data, b.data) < 2e-3, `embedding differs by ${maxAbsDiff(a.data, b.data)}`);
  assert(DEFAULT_FP16_BLOCK_LIST.includes("Softmax") && DEFAULT_FP16_BLOCK_LIST.includes("ReduceSum"));
  // With an empty block list nothing is kept in fp32.
  assertEquals(convertToFp16(src, []).stats.blockedNodes, 0);
});

Deno.test({
  name: "trackMemory() counts the exact bytes of live buffers and the peak",
  ignore: !HAS_GPU,
  fn: async () => {
    const gpu = (await sharedGpu())!;
    const mem = trackMemory(gpu.device);
    const usage = GPUBufferUsage.STORAGE;
    const a = mem.device.createBuffer({ label: "a", size: 1024, usage });
    const b = mem.device.createBuffer({ label: "b", size: 4096, usage });
    assertEquals([mem.live, mem.peak, mem.buffers], [5120, 5120, 2]);
    a.destroy();
    a.destroy(); // destroying twice counts once
    assertEquals([mem.live, mem.peak, mem.buffers], [4096, 5120, 1]);
    mem.resetPeak();
    const c = mem.device.createBuffer({ label: "c", size: 256, usage });
    assertEquals([mem.live, mem.peak], [4352, 4352]);
    b.destroy();
    c.destroy();
    assertEquals([mem.live, mem.buffers], [0, 0]);
    // The wrapped device still works for everything else.
    assert(mem.device.features.size === gpu.device.features.size);
  },
});

Deno.test("spearman(), agreement() and the fp16 self-check", () => {
  assertEquals(spearman([1, 2, 2, 3], [1, 2, 2, 3]), 1);
  const p32 = [0.7, 0.2, 0.1, 0.5, 0.3, 0.2];
  const p16 = [0.69, 0.21, 0.1, 0.3, 0.5, 0.2];
  const ag = agreement(p32, p16, p32, p16, 2, 3);
  assertEquals(ag.top1_match, 0.5);
  assert(Math.abs(ag.max_abs_prob_diff - 0.2) < 1e-12);
  assertEquals(fp16SelfCheck(p32, p32, 2, 3), null);
  assert(/NaN/.test(fp16SelfCheck(p32, [NaN, 0, 0, 0, 0, 0], 2, 3)!));
  assert(/disagrees with fp32 on the top-1 of 1 of 2/.test(fp16SelfCheck(p32, p16, 2, 3, { maxRate: 0.25 })!));
  // A near-tie in fp32 does not count against fp16.
  assertEquals(fp16SelfCheck([0.5, 0.49, 0.01], [0.49, 0.5, 0.01], 1, 3), null);
});

Deno.test({
  name: "fp16 --json on webgpu validates, passes its self-test, and reports latency, throughput, memory and agreement",
  ignore: !HAS_F16,
  fn: async () => {
    const run = await runTaskCli("fp16", [
      "--clip",
      "models/fixtures/clip-tiny",
      "--resnet",
      "models/fixtures/resnet-tiny-dyn",
      "--batch",
      "1,2",
      "--runs",
      "5",
      "--warmup",
      "1",
      "--device",
      "webgpu",
      "--json",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert(validate(doc), validate.errors);
    const r = doc.models.resnet;
    assertEquals(r.fp32.batches.map((b: { batch: number }) => b.batch), [1, 2]);
    assert(r.fp16.weight_bytes < 0.55 * r.fp32.weight_bytes);
    assert(r.fp32.peak_gpu_bytes > 0 && r.fp16.peak_gpu_bytes > 0);
    assertEquals(r.agreement.top1_match, 1);
    // Five runs give a median but no 95th percentile (it would only be the slowest run), and the noise is judged.
    assertEquals(r.fp32.batches[0].latency.p95_ms, null);
    assert(Array.isArray(r.noise_warnings));
    // clip-tiny's image tower is exported with batch 1; the verified batch rewrite lets it run batch 2 as well.
    assertEquals(doc.models.clip.skipped_batches, []);
    assertEquals(doc.models.clip.fp32.batches.map((b: { batch: number }) => b.batch), [1, 2]);
    assert(doc.models.clip.agreement.spearman > 0.95);
  },
});

Deno.test("fp16 usage errors are one line with exit 2", async () => {
  for (
    const [args, pattern] of [[["--batch", "0"], /--batch must list integers/], [
      ["--model", "vit"],
      /--model must be clip, resnet or both/,
    ], [["--runs", "1"], /--runs must be an integer of at least 5 \(20 for a p95\)/]] as [string[], RegExp][]
  ) {
    const run = await runTaskCli("fp16", args);
    assertEquals(run.code, 2, run.stderr);
    assert(pattern.test(run.stderr), run.stderr);
  }
});
