/**
 * `deno task params` (part 1): parameter counts read from the ONNX files.
 *
 * @module
 */
import { parseFlags, runTask } from "../lib/cli/run.ts";
import { chooseModels, MODEL_FLAGS } from "../lib/cli/models.ts";
import { formatBytes } from "../lib/hub/progress.ts";
import { isConvolutional, runParams } from "../lib/tasks/params.ts";
import { PARAMS_HELP } from "../lib/cli/help.ts";

const n = (x: number) => x.toLocaleString("en-US");

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
    PARAMS_HELP,
  );
  const chosen = await chooseModels(v, { clip: true, resnet: true });
  const doc = await runParams(chosen);
  if (v.json) {
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  const { models, clip_total: clipTotal, difference_visual_minus_resnet: difference } = doc;
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
  if (models.clip_visual && isConvolutional(models.clip_visual)) {
    console.log(
      "\nWhy CLIP's image tower is larger: its modified ResNet-50 replaces the 7×7 stem with three 3×3 convs and the global average pool with an attention-pooling head (2048-wide query, key, value and output projections, about 14.8 M parameters), whose output projection maps to the 1024-d joint embedding.",
    );
  }
  return 0;
});
