/**
 * Parameter counts read from a state dict, by PyTorch's rule: `sum(p.numel() for p in model.parameters())`
 * counts parameters and not buffers. In the state dicts of torchvision's ResNet and OpenAI's CLIP the buffers are
 * BatchNorm's `running_mean`, `running_var` and `num_batches_tracked`, and CLIP's `attn_mask` (when stored).
 * CLIP's tensors are split into the image tower (`visual.*`), the text tower (everything else) and the logit
 * scale, which belongs to neither.
 *
 * @module
 */
import type { ParamCount } from "../onnx/params.ts";
import { numel, type Safetensors } from "./safetensors.ts";

const BUFFER = /(^|\.)(running_mean|running_var|num_batches_tracked)$|^attn_mask$/;

/** Which tensors a count covers. */
export type StateDictPart = "all" | "clip_visual" | "clip_textual";

function inPart(name: string, part: StateDictPart): boolean {
  if (part === "all") return true;
  if (name === "logit_scale") return false;
  return part === "clip_visual" ? name.startsWith("visual.") : !name.startsWith("visual.");
}

/** The module kind a tensor belongs to, for the by-op breakdown (the name's last module). */
function kindOf(name: string, shape: readonly number[]): string {
  if (/(^|\.)bn\d?\.|downsample\.1\.|ln_\d|ln_final/.test(name)) return /ln_/.test(name) ? "LayerNorm" : "BatchNorm";
  if (shape.length === 4) return "Conv";
  if (/\.attn\.|attnpool\.[qkvc]_proj/.test(name)) return "Attention";
  if (/embedding/.test(name)) return "Embedding";
  return "Linear";
}

/**
 * Counts the parameters of a state dict (or of one CLIP tower in it).
 *
 * @example
 * ```ts ignore
 * const st = await readSafetensors("model.safetensors");
 * console.log(countStateDictParams(st).pytorch_equivalent); // 25557032 for torchvision's ResNet-50
 * ```
 * @param st The parsed safetensors file.
 * @param part Which tensors to count.
 * @returns Counts in the shape `deno task params` prints for ONNX files.
 */
export function countStateDictParams(st: Safetensors, part: StateDictPart = "all"): ParamCount {
  let raw = 0;
  let params = 0;
  const byOp: Record<string, number> = {};
  const byDtype: Record<string, number> = {};
  const excluded: Record<string, number> = {};
  let tensors = 0;
  for (const t of st.tensors.values()) {
    if (!inPart(t.name, part)) continue;
    const n = numel(t.shape);
    raw += n;
    tensors++;
    if (BUFFER.test(t.name)) {
      const why = /num_batches_tracked/.test(t.name)
        ? "BatchNorm step counters (buffers)"
        : /attn_mask/.test(t.name)
        ? "attention masks (buffers)"
        : "BatchNorm running statistics (buffers)";
      excluded[why] = (excluded[why] ?? 0) + n;
      continue;
    }
    params += n;
    const k = kindOf(t.name, t.shape);
    byOp[k] = (byOp[k] ?? 0) + n;
    const d = { F32: "float32", F16: "float16", BF16: "bfloat16", I64: "int64" }[t.dtype];
    byDtype[d] = (byDtype[d] ?? 0) + n;
  }
  const fmt = (x: number) => x.toLocaleString("en-US");
  const parts = Object.entries(excluded).map(([why, n]) => `${fmt(n)} in ${why}`);
  const explanation = `${fmt(raw)} elements in ${tensors} tensors of the state dict; ${fmt(params)} are parameters${
    parts.length ? ` (not counted: ${parts.join(", ")})` : ""
  }. Read from the weights themselves, so this is PyTorch's own count with nothing to reconstruct${
    part === "clip_textual" && st.tensors.has("logit_scale") ? "; the logit scale (1) belongs to neither tower" : ""
  }.`;
  return {
    raw_initializer_elements: raw,
    onnx_parameters: params,
    pytorch_equivalent: params,
    identity_shared_elements: 0,
    bn_folded_convs: 0,
    by_op: byOp,
    by_dtype: byDtype,
    bytes_fp32: params * 4,
    bytes_fp16: params * 2,
    excluded,
    explanation,
  };
}
