import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { countParams } from "../lib/onnx/params.ts";
import { FIX, refs, runTaskCli } from "./_helpers.ts";
import { schemaValidator } from "./_schema.ts";

const validate = await schemaValidator("params");
const count = async (p: string) => countParams(await Deno.readFile(`${FIX}/${p}`));

Deno.test("countParams() gives PyTorch's exact counts for the fixtures, from the ONNX files alone", async () => {
  assertEquals((await count("resnet-tiny/model.onnx")).pytorch_equivalent, refs.params.resnet);
  const p = refs.params;
  assertEquals((await count("clip-tiny/visual/model.onnx")).pytorch_equivalent, p.clip_visual);
  assertEquals((await count("clip-tiny/textual/model.onnx")).pytorch_equivalent, p.clip_textual);
  assertEquals((await count("clip-tiny-dyn/textual/model.onnx")).pytorch_equivalent, p.clip_textual);
});

Deno.test("countParams() detects BatchNorm folding, Identity-shared copies, masks and normalisation constants", async () => {
  const r = await count("resnet-tiny/model.onnx");
  assertEquals(r.bn_folded_convs, 2);
  assertEquals(r.excluded, { "input normalisation constants": 6 }); // ImageNet mean and std inside the graph
  assertEquals(r.pytorch_equivalent - r.onnx_parameters, 16 + 32); // the two folded BatchNorms' channels
  assert(/folded 2 BatchNorm layers/.test(r.explanation));
  const t = await count("clip-tiny/textual/model.onnx");
  assertEquals(t.excluded, { "constant masks": 77 * 77 }); // the causal attention mask is a buffer
  assertEquals(t.identity_shared_elements, 3 * 16); // LayerNorm weights/biases merged behind Identity nodes
  assertEquals(t.bn_folded_convs, 0);
  assertEquals(t.bytes_fp32, 4 * t.onnx_parameters);
  assertEquals(t.bytes_fp16, 2 * t.onnx_parameters);
  assertEquals(t.by_dtype, { float32: t.onnx_parameters });
  assert(t.by_op.Gather === 49408 * 16, JSON.stringify(t.by_op));
});

Deno.test("params --json on the fixtures validates and gives exact counts and the difference", async () => {
  const run = await runTaskCli("params", [
    "--clip",
    "models/fixtures/clip-tiny",
    "--resnet",
    "models/fixtures/resnet-tiny",
    "--json",
  ]);
  assertEquals(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert(validate(doc), validate.errors);
  const p = refs.params;
  assertEquals(doc.models.clip_visual.pytorch_equivalent, p.clip_visual);
  assertEquals(doc.models.clip_textual.pytorch_equivalent, p.clip_textual);
  assertEquals(doc.models.resnet.pytorch_equivalent, p.resnet);
  assertEquals(doc.clip_total, p.clip_visual + p.clip_textual);
  assertEquals(doc.difference_visual_minus_resnet, p.clip_visual - p.resnet);
  assert(doc.models.resnet.raw_initializer_elements !== doc.models.resnet.pytorch_equivalent);
});

Deno.test("params prints the seed's boxed table with the text tower and totals", async () => {
  const run = await runTaskCli("params", [
    "--clip",
    "models/fixtures/clip-tiny",
    "--resnet",
    "models/fixtures/resnet-tiny",
  ]);
  assertEquals(run.code, 0, run.stderr);
  assert(/│ clip-tiny visual encoder\s+│\s+40,472 │/.test(run.stdout), run.stdout);
  assert(/│ resnet-tiny \(ImageNet\)\s+│\s+40,056 │/.test(run.stdout));
  assert(/│ Difference \(CLIP visual − ResNet\)\s+│\s+416 │/.test(run.stdout));
  assert(/│ CLIP total \(visual \+ text\)\s+│\s+851,928 │/.test(run.stdout));
  assert(run.stdout.includes("weights: "));
});

Deno.test("params names a missing or broken model file in one line", async () => {
  const run = await runTaskCli("params", ["--resnet", "models/fixtures/refs.json"]);
  assertEquals(run.code, 1);
  assert(
    /--resnet "models\/fixtures\/refs.json": expected a .onnx file or a model directory/.test(run.stderr),
    run.stderr,
  );
  const clip = await runTaskCli("params", ["--clip", "models/fixtures"]);
  assertEquals(clip.code, 1);
  assertEquals(clip.stderr.trim().split("\n").length, 1, clip.stderr);
});

Deno.test("a tensor shared through Identity across roles counts by each role: γ of one BatchNorm, running_var of another", async () => {
  const { OnnxGraph } = await import("../lib/onnx/build.ts");
  // Conv (16) → BN1 (γ, β random; mean 0, var 1) → BN2 whose γ and β are BN1's var and mean bytes, shared
  // through Identity nodes, as torch.onnx.export does when it keeps BatchNormalization and dedups constants.
  const g = new OnnxGraph("shared_roles");
  g.input("x", "float32", [1, 4, 2, 2]);
  const w = g.init("w", [4, 4, 1, 1], Float32Array.from({ length: 16 }, (_, i) => i / 7));
  const gamma = g.init("g1", [4], new Float32Array([0.5, 0.7, 0.9, 1.1]));
  const beta = g.init("b1", [4], new Float32Array([0.1, 0.2, 0.3, 0.4]));
  const zeros = g.init("zeros", [4], new Float32Array(4));
  const ones = g.init("ones", [4], new Float32Array([1, 1, 1, 1]));
  const c = g.op("Conv", ["x", w], { kernel_shape: [1, 1] });
  const b1 = g.op("BatchNormalization", [c, gamma, beta, zeros, ones]);
  const g2 = g.op("Identity", [ones]);
  const be2 = g.op("Identity", [zeros]);
  const m2 = g.op("Identity", [zeros]);
  const v2 = g.op("Identity", [ones]);
  g.op("BatchNormalization", [b1, g2, be2, m2, v2], {}, "y");
  g.output("y", "float32", [1, 4, 2, 2]);
  const counts = countParams(g.toBytes());
  // PyTorch: conv 16 + BN1 γ, β (8) + BN2 γ, β (8) = 32; the four running statistics (16) are buffers.
  assertEquals(counts.pytorch_equivalent, 32, counts.explanation);
  assertEquals(counts.excluded["BatchNorm running statistics (buffers)"], 16);
});

Deno.test("params takes a .zip bundle with external data, a .safetensors file, and a weights directory", async () => {
  const zip = await runTaskCli("params", ["--resnet", "models/fixtures/hub/ResNet50_float.onnx.zip", "--json"]);
  assertEquals(zip.code, 0, zip.stderr);
  assertEquals(JSON.parse(zip.stdout).models.resnet.pytorch_equivalent, refs.params.resnet);
  const W = JSON.parse(await Deno.readTextFile(`${FIX}/weights/refs.json`));
  const st = await runTaskCli("params", [
    "--resnet",
    "models/fixtures/weights/resnet-tv-tiny/model.safetensors",
    "--json",
  ]);
  assertEquals(st.code, 0, st.stderr);
  const r = JSON.parse(st.stdout).models.resnet;
  assertEquals(r.pytorch_equivalent, W.resnet.params);
  assert(r.path.endsWith("model.safetensors"), r.path);
  const clip = await runTaskCli("params", ["--clip", "models/fixtures/weights/clip-rn-tiny", "--json"]);
  assertEquals(clip.code, 0, clip.stderr);
  const c = JSON.parse(clip.stdout).models;
  assertEquals([c.clip_visual.pytorch_equivalent, c.clip_textual.pytorch_equivalent], [
    W.clip.params_visual,
    W.clip.params_textual,
  ]);
});
