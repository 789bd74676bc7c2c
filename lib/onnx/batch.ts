/**
 * Rewrites a text graph exported with its batch fixed at 1 (like the immich CLIP exports) to a dynamic batch,
 * on the protobuf directly. The exported patterns it knows:
 * - graph inputs and outputs: dim 0 becomes the symbol `batch`; stale intermediate shapes are dropped;
 * - `Reshape` targets with a leading 1 (e.g. [1, 77, 8, 64]) get 0 there, which copies the input's batch;
 * - `x[arange(b), eot]`, exported with `arange(1)` folded into the constant [0] that a `Mul` scales, gets a real
 *   `Range(0, batch, 1)` computed from the first input's shape.
 * Anything else that bakes in the batch (for instance torch's seq-first attention merging batch into heads) is
 * not rewritten, which is why callers verify the result against the original before using it.
 *
 * @module
 */
import { encodeFields, type OutField, packedVarints, readFields, utf8 } from "./proto.ts";

const INT64 = 7;
const text = (b?: Uint8Array) => (b ? new TextDecoder().decode(b) : "");

function int64Values(tensor: Uint8Array): { dims: number[]; values: bigint[] } | null {
  const f = readFields(tensor);
  if (f.find((g) => g.field === 2)?.value !== INT64) return null;
  const dims = f.filter((g) => g.field === 1).flatMap((g) => (g.wire === 2 ? packedVarints(g.bytes!) : [g.value!]));
  const raw = f.find((g) => g.field === 9)?.bytes;
  if (raw) return { dims, values: Array.from(new BigInt64Array(raw.slice().buffer)) };
  const packed = f.find((g) => g.field === 7 && g.wire === 2)?.bytes;
  if (packed) return { dims, values: packedVarints(packed).map((v) => BigInt.asIntN(64, BigInt(v))) };
  return null;
}

function int64Tensor(name: string, dims: number[], values: bigint[]): Uint8Array {
  const fields: OutField[] = dims.map((d) => ({ field: 1, varint: d }));
  fields.push({ field: 2, varint: INT64 }, { field: 8, bytes: utf8(name) }, {
    field: 9,
    bytes: new Uint8Array(BigInt64Array.from(values).buffer),
  });
  return encodeFields(fields);
}

function node(op: string, inputs: string[], outputs: string[], name: string): Uint8Array {
  return encodeFields([
    ...inputs.map((i) => ({ field: 1, bytes: utf8(i) })),
    ...outputs.map((o) => ({ field: 2, bytes: utf8(o) })),
    { field: 3, bytes: utf8(name) },
    { field: 4, bytes: utf8(op) },
  ]);
}

/** Sets dim 0 of a ValueInfoProto's tensor shape to the symbol `batch`. */
function symbolicBatch(valueInfo: Uint8Array): Uint8Array {
  const vi = readFields(valueInfo);
  return encodeFields(vi.map((f) => {
    if (f.field !== 2) return f;
    const type = readFields(f.bytes!).map((t) => {
      if (t.field !== 1) return t;
      const tensor = readFields(t.bytes!).map((x) => {
        if (x.field !== 2) return x;
        let first = true;
        const shape = readFields(x.bytes!).map((d) => {
          if (d.field !== 1 || !first) return d;
          first = false;
          return { field: 1, bytes: encodeFields([{ field: 2, bytes: utf8("batch") }]) };
        });
        return { field: 2, bytes: encodeFields(shape) };
      });
      return { field: 1, bytes: encodeFields(tensor) };
    });
    return { field: 2, bytes: encodeFields(type) };
  }));
}

/** What the rewrite changed. */
export interface BatchRewrite {
  /** The rewritten model. */
  model: Uint8Array;
  /** Reshape targets whose leading 1 became 0. */
  reshapes: number;
  /** Folded `arange(1)` constants replaced by a Range over the batch. */
  ranges: number;
}

/**
 * Rewrites a batch-1 graph to a dynamic batch (see the module doc); verify the result before use.
 *
 * @example
 * ```ts ignore
 * const { model } = rewriteBatchDynamic(await Deno.readFile("textual/model.onnx"));
 * ```
 * @param model The `.onnx` bytes.
 * @returns The rewritten model and counts of what changed.
 */
export function rewriteBatchDynamic(model: Uint8Array): BatchRewrite {
  const top = readFields(model);
  const graphField = top.find((f) => f.field === 7 && f.wire === 2);
  if (!graphField?.bytes) throw new SyntaxError("not an ONNX model: no graph");
  const graph = readFields(graphField.bytes);
  const nodes = graph.filter((f) => f.field === 1).map((f) => {
    const fs = readFields(f.bytes!);
    return {
      raw: f,
      fields: fs,
      op: text(fs.find((g) => g.field === 4)?.bytes),
      inputs: fs.filter((g) => g.field === 1).map((g) => text(g.bytes)),
      outputs: fs.filter((g) => g.field === 2).map((g) => text(g.bytes)),
    };
  });
  const firstInput = text(readFields(graph.find((f) => f.field === 11)!.bytes!).find((g) => g.field === 1)?.bytes);
  const reshapeShapes = new Set(nodes.filter((n) => n.op === "Reshape").map((n) => n.inputs[1]));
  const mulInputs = new Set(nodes.filter((n) => n.op === "Mul").flatMap((n) => n.inputs));
  let reshapes = 0, ranges = 0;
  const extraInits: Uint8Array[] = [];
  const newNodes: Uint8Array[] = [];
  for (const n of nodes) {
    const out = n.outputs[0] ?? "";
    const valueAttr = n.op === "Constant"
      ? n.fields.find((g) => g.field === 5 && text(readFields(g.bytes!).find((a) => a.field === 1)?.bytes) === "value")
      : undefined;
    const tensor = valueAttr && readFields(valueAttr.bytes!).find((a) => a.field === 5)?.bytes;
    const ints = tensor ? int64Values(tensor) : null;
    if (ints && reshapeShapes.has(out) && ints.values.length > 1 && ints.values[0] === 1n) {
      const fixed = int64Tensor(out, ints.dims, [0n, ...ints.values.slice(1)]);
      const attr = encodeFields([{ field: 1, bytes: utf8("value") }, { field: 5, bytes: fixed }, {
        field: 20,
        varint: 4,
      }]);
      newNodes.push(encodeFields(n.fields.map((g) => (g === valueAttr ? { field: 5, bytes: attr } : g))));
      reshapes++;
      continue;
    }
    if (ints && mulInputs.has(out) && ints.values.length === 1 && ints.values[0] === 0n && ints.dims.length === 1) {
      // arange(batch) in place of the folded arange(1)
      const p = `${out}__batch`;
      if (ranges === 0) {
        extraInits.push(int64Tensor("__batch_zero", [], [0n]), int64Tensor("__batch_one", [], [1n]));
      }
      newNodes.push(
        node("Shape", [firstInput], [`${p}_shape`], `${p}_shape`),
        node("Gather", [`${p}_shape`, "__batch_zero"], [`${p}_size`], `${p}_size`),
        node("Range", ["__batch_zero", `${p}_size`, "__batch_one"], [out], `${p}_range`),
      );
      ranges++;
      continue;
    }
    newNodes.push(n.raw.bytes!);
  }
  const newGraph: OutField[] = [];
  let wroteNodes = false;
  for (const f of graph) {
    if (f.field === 1) {
      if (!wroteNodes) { for (const b of newNodes) newGraph.push({ field: 1, bytes: b }); }
      wroteNodes = true;
    } else if (f.field === 11 || f.field === 12) newGraph.push({ field: f.field, bytes: symbolicBatch(f.bytes!) });
    else if (f.field === 13) continue;
    else newGraph.push(f);
  }
  for (const t of extraInits) newGraph.push({ field: 5, bytes: t });
  return {
    model: encodeFields(top.map((f) => (f === graphField ? { field: 7, bytes: encodeFields(newGraph) } : f))),
    reshapes,
    ranges,
  };
}
