/**
 * `deno task params` (part 1): parameter counts read from the ONNX files.
 *
 * @module
 */
import { readOnnx } from "../lib/onnx/external.ts";
import { parseFlags, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, firstLine } from "../lib/errors.ts";
import { chooseModels, MODEL_FLAGS, MODEL_HELP } from "../lib/cli/models.ts";
import { countParams, type ParamCount } from "../lib/onnx/params.ts";
import { countStateDictParams, type StateDictPart } from "../lib/weights/params.ts";
import { readSafetensors } from "../lib/weights/safetensors.ts";
import { formatBytes } from "../lib/hub/progress.ts";
import { sha256File } from "../lib/fs.ts";
import { VERSION } from "../lib/version.ts";

const HELP = `clipcmp params: parameter counts read from the weights (safetensors) or the ONNX files

Usage: deno task params [options]

Prints a table (CLIP visual encoder, ResNet, difference) with the text tower and totals,
a breakdown by op type and dtype, and weight bytes in fp32 and fp16. Counts are PyTorch-equivalent: BatchNorm
folded into Convs by the exporter and initializers merged behind Identity nodes are accounted for, and buffers
(BatchNorm statistics, masks, normalisation constants) are not parameters. --json also gives the raw initializer
element counts and an explanation per model.

Options:
${MODEL_HELP}
  --json                  one JSON document on stdout (schema: docs/schemas/params.schema.json)
  -h, --help              this help`;

const n = (x: number) => x.toLocaleString("en-US");

async function count(path: string): Promise<ParamCount & { path: string; sha256: string }> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await readOnnx(path);
  } catch (err) {
    if (err instanceof ClipcmpError) throw err;
    throw new ClipcmpError(
      `Cannot read model "${path}": ${err instanceof Deno.errors.NotFound ? "file not found" : firstLine(err)}`,
    );
  }
  try {
    return { path, sha256: await sha256File(bytes), ...countParams(bytes) };
  } catch (err) {
    throw new ClipcmpError(`Cannot read model "${path}": ${firstLine(err)}`);
  }
}

async function countWeights(path: string, part: StateDictPart): Promise<ParamCount & { path: string; sha256: string }> {
  const bytes = await Deno.readFile(path);
  const st = await readSafetensors(path);
  return { path, sha256: await sha256File(bytes), ...countStateDictParams(st, part) };
}

function box(rows: [string, string, string][]): string {
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (l: string, m: string, r: string) => `${l}${w.map((x) => "─".repeat(x + 2)).join(m)}${r}`;
  const row = (r: string[]) => `│ ${r[0]!.padEnd(w[0]!)} │ ${r[1]!.padStart(w[1]!)} │ ${r[2]!.padStart(w[2]!)} │`;
  const out = [line("┌", "┬", "┐"), row(rows[0]!), line("├", "┼", "┤")];
  rows.slice(1).forEach((r) => out.push(row(r)));
  out.push(line("└", "┴", "┘"));
  return out.join("\n");
}

runTask("params", async (args) => {
  const { values: v } = parseFlags(
    args,
    {
      ...MODEL_FLAGS,
      json: { type: "boolean", default: false },
    },
    false,
    HELP,
  );
  const chosen = await chooseModels(v, { clip: true, resnet: true });
  const models: Record<string, ParamCount & { path: string; sha256: string }> = {};
  if (chosen.clip?.weights) {
    models.clip_visual = await countWeights(chosen.clip.weights, "clip_visual");
    models.clip_textual = await countWeights(chosen.clip.weights, "clip_textual");
  } else if (chosen.clip) {
    models.clip_visual = await count(`${chosen.clip.dir}/visual/model.onnx`);
    models.clip_textual = await count(`${chosen.clip.dir}/textual/model.onnx`);
  }
  if (chosen.resnet?.weights) models.resnet = await countWeights(chosen.resnet.weights, "all");
  else if (chosen.resnet) models.resnet = await count(chosen.resnet.source.model);
  const clipTotal = models.clip_visual && models.clip_textual
    ? models.clip_visual.pytorch_equivalent + models.clip_textual.pytorch_equivalent
    : null;
  const difference = models.clip_visual && models.resnet
    ? models.clip_visual.pytorch_equivalent - models.resnet.pytorch_equivalent
    : null;
  if (v.json) {
    console.log(JSON.stringify(
      {
        tool: "clipcmp",
        version: VERSION,
        task: "params",
        models,
        clip_total: clipTotal,
        difference_visual_minus_resnet: difference,
      },
      null,
      2,
    ));
    return 0;
  }
  const stored = chosen.clip?.weights || chosen.resnet?.weights ? "Stored elements" : "ONNX initializers";
  const rows: [string, string, string][] = [["Model", "Parameters", stored]];
  if (models.clip_visual) {
    rows.push([
      `${chosen.clip?.name ?? "CLIP"} visual encoder`,
      n(models.clip_visual.pytorch_equivalent),
      n(models.clip_visual.raw_initializer_elements),
    ]);
  }
  if (models.resnet) {
    rows.push([
      `${chosen.resnet?.name ?? "ResNet"} (ImageNet)`,
      n(models.resnet.pytorch_equivalent),
      n(models.resnet.raw_initializer_elements),
    ]);
  }
  if (difference !== null) rows.push(["Difference (CLIP visual − ResNet)", n(difference), ""]);
  if (models.clip_textual) {
    rows.push([
      `${chosen.clip?.name ?? "CLIP"} text encoder`,
      n(models.clip_textual.pytorch_equivalent),
      n(models.clip_textual.raw_initializer_elements),
    ]);
  }
  if (clipTotal !== null) rows.push(["CLIP total (visual + text)", n(clipTotal), ""]);
  console.log(box(rows));
  for (const [key, m] of Object.entries(models)) {
    console.log(`\n${key}: ${m.path}`);
    console.log(`  ${m.explanation}`);
    const ops = Object.entries(m.by_op).sort((a, b) => b[1] - a[1]).map(([op, c]) => `${op} ${n(c)}`).join(", ");
    console.log(`  by op: ${ops}`);
    console.log(`  by dtype: ${Object.entries(m.by_dtype).map(([d, c]) => `${d} ${n(c)}`).join(", ")}`);
    console.log(`  weights: ${formatBytes(m.bytes_fp32)} in fp32, ${formatBytes(m.bytes_fp16)} in fp16`);
  }
  // The note below describes OpenAI's modified ResNet; a ViT tower (its weights mostly in matrix products) gets none.
  const convolutional = (m: { by_op: Record<string, number> }) =>
    (m.by_op.Conv ?? 0) > (m.by_op.MatMul ?? 0) + (m.by_op.Gemm ?? 0);
  if (models.clip_visual && convolutional(models.clip_visual)) {
    console.log(
      "\nWhy CLIP's image tower is larger: its modified ResNet-50 replaces the 7×7 stem with three 3×3 convs and the global average pool with an attention-pooling head (2048-wide query, key, value and output projections, about 14.8 M parameters), whose output projection maps to the 1024-d joint embedding.",
    );
  }
  return 0;
});
