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
  assert(/│ CLIP visual encoder \(RN50\)\s+│\s+40,472 │/.test(run.stdout), run.stdout);
  assert(/│ ResNet-50 \(ImageNet\)\s+│\s+40,056 │/.test(run.stdout));
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
