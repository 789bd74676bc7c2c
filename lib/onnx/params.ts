/**
 * Part 1's counting: parameters read from an ONNX file, the raw initializer count and the PyTorch-equivalent
 * count, with the reasons they differ.
 *
 * What counts as a parameter: a floating-point initializer that some node uses, once for each name it is used
 * under in a parameter's role (a name used only as BatchNormalization mean or variance is a buffer, even when
 * the same bytes also serve elsewhere as a γ): exporters merge identical initializers (all-ones LayerNorm weights, all-zero biases) and hand out copies
 * through `Identity` nodes, and each of those was a parameter of its own in PyTorch. Not parameters: integer tensors (shapes, indices),
 * BatchNormalization running mean and variance (buffers), constant attention masks (only 0 and -inf), scalars
 * (folded constants), and normalisation constants applied to a graph input (a `Sub`/`Div` on the input).
 *
 * BatchNorm folding: exporters fold BatchNorm into the preceding Conv in eval mode, so the graph has no
 * BatchNormalization node and each such Conv gains a bias of C elements where PyTorch had γ and β (2C). In a
 * graph with no BatchNormalization nodes, a Conv bias is taken to be folded BatchNorm, which holds for
 * ResNet-style models whose convolutions have no bias of their own; the PyTorch-equivalent count then adds C.
 *
 * @module
 */
import { packedVarints, readFields } from "./proto.ts";

const FLOAT_TYPES: Record<number, { name: string; bytes: number }> = {
  1: { name: "float32", bytes: 4 },
  10: { name: "float16", bytes: 2 },
  11: { name: "float64", bytes: 8 },
  16: { name: "bfloat16", bytes: 2 },
};

interface Init {
  name: string;
  dataType: number;
  dims: number[];
  elements: number;
  raw?: Uint8Array;
  floats?: Uint8Array;
}

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
}

const text = (b?: Uint8Array) => (b ? new TextDecoder().decode(b) : "");

function parseGraph(model: Uint8Array): { nodes: Node[]; inits: Init[]; graphInputs: Set<string> } {
  const graph = readFields(model).find((f) => f.field === 7 && f.wire === 2)?.bytes;
  if (!graph) throw new SyntaxError("not an ONNX model: no graph");
  const nodes: Node[] = [];
  const inits: Init[] = [];
  const graphInputs = new Set<string>();
  for (const f of readFields(graph)) {
    if (f.field === 1 && f.bytes) {
      const n: Node = { op: "", inputs: [], outputs: [] };
      for (const g of readFields(f.bytes)) {
        if (g.field === 1) n.inputs.push(text(g.bytes));
        else if (g.field === 2) n.outputs.push(text(g.bytes));
        else if (g.field === 4) n.op = text(g.bytes);
      }
      nodes.push(n);
    } else if (f.field === 5 && f.bytes) {
      const t: Init = { name: "", dataType: 0, dims: [], elements: 1 };
      for (const g of readFields(f.bytes)) {
        if (g.field === 1) t.dims.push(...(g.wire === 2 ? packedVarints(g.bytes!) : [g.value!]));
        else if (g.field === 2) t.dataType = g.value!;
        else if (g.field === 8) t.name = text(g.bytes);
        else if (g.field === 9) t.raw = g.bytes;
        else if (g.field === 4 && g.wire === 2) t.floats = g.bytes;
      }
      t.elements = t.dims.reduce((a, b) => a * b, 1);
      inits.push(t);
    } else if (f.field === 11 && f.bytes) {
      const name = text(readFields(f.bytes).find((g) => g.field === 1)?.bytes);
      graphInputs.add(name);
    }
  }
  return { nodes, inits, graphInputs };
}

function isMask(t: Init): boolean {
  if (t.dataType !== 1 || t.elements < 4) return false;
  const bytes = t.raw ?? t.floats;
  if (!bytes || bytes.length !== t.elements * 4) return false;
  const v = new Float32Array(bytes.slice().buffer);
  let neg = 0;
  for (const x of v) {
    if (x === 0) continue;
    if (x === -Infinity || x < -1e30) neg++;
    else return false;
  }
  return neg > 0;
}

/** The counts for one ONNX file. */
export interface ParamCount {
  /** Elements in all initializers, as stored. */
  raw_initializer_elements: number;
  /** Elements of the initializers that are parameters (see the module doc). */
  onnx_parameters: number;
  /** What PyTorch's `sum(p.numel())` gives for the same model. */
  pytorch_equivalent: number;
  /** Elements counted again because the exporter shared one initializer through Identity nodes. */
  identity_shared_elements: number;
  /** Convs whose bias is folded BatchNorm. */
  bn_folded_convs: number;
  /** Parameter elements by the op that uses them. */
  by_op: Record<string, number>;
  /** Parameter elements by stored dtype. */
  by_dtype: Record<string, number>;
  /** Parameter weight bytes if stored in fp32 / fp16. */
  bytes_fp32: number;
  /** Parameter weight bytes if stored in fp16. */
  bytes_fp16: number;
  /** What was excluded, by reason: elements. */
  excluded: Record<string, number>;
  /** One paragraph explaining raw vs ONNX parameters vs PyTorch. */
  explanation: string;
}

/**
 * Counts the parameters of an ONNX model.
 *
 * @example
 * ```ts ignore
 * const c = countParams(await Deno.readFile("models/fixtures/resnet-tiny/model.onnx"));
 * console.log(c.pytorch_equivalent); // 40056
 * ```
 * @param model The `.onnx` bytes (external data is described in the proto, so its files are not needed).
 * @returns The counts.
 */
export function countParams(model: Uint8Array): ParamCount {
  const { nodes, inits, graphInputs } = parseGraph(model);
  // Exporters deduplicate identical initializers (all-ones LayerNorm weights, all-zero folded biases) and
  // re-expose each copy through an Identity node: every name under which a tensor is used counts once.
  const aliases = new Map<string, string[]>(); // source → Identity outputs
  for (const n of nodes) {
    if (n.op === "Identity" && n.inputs[0] && n.outputs[0]) {
      if (!aliases.has(n.inputs[0])) aliases.set(n.inputs[0], []);
      aliases.get(n.inputs[0])!.push(n.outputs[0]);
    }
  }
  const namesOf = (name: string): string[] => {
    const out = [name];
    for (let i = 0; i < out.length && i < 10_000; i++) out.push(...(aliases.get(out[i]!) ?? []));
    return out;
  };
  const uses = new Map<string, { node: Node; slot: number }[]>();
  for (const n of nodes) {
    if (n.op === "Identity") continue;
    n.inputs.forEach((inp, slot) => {
      if (!uses.has(inp)) uses.set(inp, []);
      uses.get(inp)!.push({ node: n, slot });
    });
  }
  // Tensors computed from a graph input by elementwise arithmetic only (where input normalisation happens).
  const fromInput = new Set(graphInputs);
  for (const n of nodes) {
    if (["Sub", "Div", "Mul", "Add", "Cast"].includes(n.op) && n.inputs.some((i) => fromInput.has(i))) {
      for (const o of n.outputs) fromInput.add(o);
    }
  }
  const hasBn = nodes.some((n) => n.op === "BatchNormalization");
  const rawElements = inits.reduce((a, t) => a + t.elements, 0);
  const byOp: Record<string, number> = {};
  const byDtype: Record<string, number> = {};
  const excluded: Record<string, number> = {};
  const exclude = (why: string, t: Init) => (excluded[why] = (excluded[why] ?? 0) + t.elements);
  let params = 0;
  let bytes32 = 0;
  let folded = 0;
  let foldedElements = 0;
  let sharedExtra = 0;
  for (const t of inits) {
    const named = namesOf(t.name).filter((n) => (uses.get(n) ?? []).length > 0);
    // A tensor counts by the role each name it is used under plays: an exporter may hand the same bytes to one
    // BatchNorm as γ (a parameter) and, through an Identity, to another as running_var (a buffer).
    const isStat = (n: string) => uses.get(n)!.every((x) => x.node.op === "BatchNormalization" && x.slot >= 3);
    const stats = named.filter(isStat);
    const used = named.filter((n) => !isStat(n));
    const u = used.flatMap((n) => uses.get(n)!);
    const ft = FLOAT_TYPES[t.dataType];
    if (ft && stats.length) {
      excluded["BatchNorm running statistics (buffers)"] = (excluded["BatchNorm running statistics (buffers)"] ?? 0) +
        t.elements * stats.length;
    }
    if (named.length === 0) exclude("unused", t);
    else if (!ft) exclude("integer tensors (shapes, indices)", t);
    else if (u.length === 0) continue; // only ever a running statistic: counted as a buffer above
    else if (t.elements <= 1) exclude("scalar constants", t);
    else if (isMask(t)) exclude("constant masks", t);
    else if (
      t.elements <= 16 &&
      u.every((x) => ["Sub", "Div", "Mul", "Add"].includes(x.node.op) && x.node.inputs.some((i) => fromInput.has(i)))
    ) {
      exclude("input normalisation constants", t);
    } else {
      sharedExtra += t.elements * (used.length - 1);
      for (const n of used) {
        const site = uses.get(n)!;
        params += t.elements;
        bytes32 += t.elements * 4;
        const op = site[0]!.node.op;
        byOp[op] = (byOp[op] ?? 0) + t.elements;
        byDtype[ft.name] = (byDtype[ft.name] ?? 0) + t.elements;
        if (!hasBn && site.some((x) => x.node.op === "Conv" && x.slot === 2)) {
          folded++;
          foldedElements += t.elements;
        }
      }
    }
  }
  const pytorch = params + foldedElements;
  const parts = Object.entries(excluded).map(([why, n]) => `${n.toLocaleString("en-US")} in ${why}`);
  const explanation = [
    `${rawElements.toLocaleString("en-US")} elements in ${inits.length} initializers; ${
      params.toLocaleString("en-US")
    } are parameters`,
    sharedExtra
      ? `, counting ${
        sharedExtra.toLocaleString("en-US")
      } for copies the exporter merged behind Identity nodes (identical tensors such as all-ones scales and all-zero biases)`
      : "",
    parts.length ? ` (not counted: ${parts.join(", ")})` : "",
    folded
      ? `. The exporter folded ${folded} BatchNorm layers into their Convs: each such Conv's bias (C) stands for PyTorch's γ and β (2C), so PyTorch counts ${
        foldedElements.toLocaleString("en-US")
      } more: ${pytorch.toLocaleString("en-US")}`
      : `. No BatchNorm folding detected, so PyTorch counts the same ${pytorch.toLocaleString("en-US")}`,
    ".",
  ].join("");
  return {
    raw_initializer_elements: rawElements,
    onnx_parameters: params,
    pytorch_equivalent: pytorch,
    identity_shared_elements: sharedExtra,
    bn_folded_convs: folded,
    by_op: byOp,
    by_dtype: byDtype,
    bytes_fp32: bytes32,
    bytes_fp16: bytes32 / 2,
    excluded,
    explanation,
  };
}
