/** Tables, reports and headers name the models that were loaded, not "CLIP RN50" and "ResNet-50". */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FIX, runTaskCli, tempDir } from "./_helpers.ts";
import { modelNameOfPath } from "../lib/models/resolve.ts";

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

Deno.test("modelNameOfPath() names a model by its folder or file, not by model.onnx", () => {
  assertEquals(modelNameOfPath("models/fixtures/clip-tiny"), "clip-tiny");
  assertEquals(modelNameOfPath("models/fixtures/clip-tiny/"), "clip-tiny");
  assertEquals(modelNameOfPath("/m/resnet-tiny/model.onnx"), "resnet-tiny");
  assertEquals(modelNameOfPath("/m/ResNet50_float.onnx.zip"), "ResNet50_float");
  assertEquals(modelNameOfPath("w/model.safetensors"), "w");
  assertEquals(modelNameOfPath("x.onnx"), "x");
});

Deno.test("compare and params name the models they loaded, in the console, the JSON and the report", async () => {
  const d = await tempDir();
  try {
    await copyDir(`${FIX}/clip-tiny`, `${d}/north-clip`);
    await copyDir(`${FIX}/resnet-tiny`, `${d}/south-resnet`);
    const models = ["--clip", `${d}/north-clip`, "--resnet", `${d}/south-resnet`, "--device", "wasm"];
    const run = await runTaskCli("compare", [...models, "--dataset", "p=models/fixtures/parity", "--out", `${d}/r`]);
    assertEquals(run.code, 0, run.stderr);
    assert(/north-clip zero-shot/.test(run.stdout) && /south-resnet \(label set\)/.test(run.stdout), run.stdout);
    const doc = JSON.parse(await Deno.readTextFile(`${d}/r/results.json`)).comparison;
    assertEquals(doc.provenance.models.clip.name, "north-clip");
    assertEquals(doc.provenance.models.resnet.name, "south-resnet");
    for (const f of ["report.md", "report.html"]) {
      const text = await Deno.readTextFile(`${d}/r/${f}`);
      assert(text.includes("south-resnet vs north-clip"), f);
      assert(!/RN50|ResNet-50/.test(text.replace(/clipcmp[^\n]*/g, "")), `${f} still says RN50 or ResNet-50`);
    }
    const params = await runTaskCli("params", models.slice(0, 4));
    assertEquals(params.code, 0, params.stderr);
    assert(/north-clip visual encoder/.test(params.stdout) && /south-resnet \(ImageNet\)/.test(params.stdout));
    assert(!/RN50|ResNet-50 \(ImageNet\)/.test(params.stdout.split("Why CLIP")[0]!), params.stdout);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});
