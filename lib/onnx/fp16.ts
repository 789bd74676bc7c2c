/**
 * fp32 → fp16 conversion of an ONNX model, in TypeScript, working on the protobuf directly:
 * - float32 initializers and float `Constant`/`ConstantOfShape` values become float16;
 * - `Cast(to=FLOAT)` nodes become `Cast(to=FLOAT16)`;
 * - graph inputs and outputs stay float32, with a Cast after each input and before each output, so callers
 *   feed and read the same tensors as before;
 * - ops on the block list run in float32: their inputs are cast up and their outputs back down. The default
 *   list keeps reductions and normalisation in fp32, where fp16 overflows or loses precision: a sum of 1024
 *   squares overflows fp16's 65,504 long before an embedding is unusual, and softmax/LayerNorm need the range.
 *
 * @module
 */
import { encodeFields, type OutField, type ProtoField, readFields, utf8 } from "./proto.ts";

/** Ops kept in float32 by default. */
export const DEFAULT_FP16_BLOCK_LIST: readonly string[] = [
  "LayerNormalization",
  "Softmax",
  "ReduceMean",
  "ReduceSum",
  "ReduceL2",
  "ReduceSumSquare",
  "Pow",
  "Sqrt",
  "GlobalAveragePool",
];

/** Which inputs of a block-listed op carry float data (the rest, such as ReduceSum's axes, are left alone). */
const FLOAT_SLOTS: Record<string, number[]> = { LayerNormalization: [0, 1, 2] };

const FLOAT = 1;
const FLOAT16 = 10;
const text = (b?: Uint8Array) => (b ? new TextDecoder().decode(b) : "");

function tensorToFp16(fields: ProtoField[]): OutField[] | null {
  const type = fields.find((f) => f.field === 2)?.value;
  if (type !== FLOAT) return null;
  if (fields.some((f) => f.field === 14 && f.value === 1)) {
    throw new RangeError("initializers stored as external data are not supported by the fp16 converter");
  }
  const raw = fields.find((f) => f.field === 9)?.bytes;
  const packed = fields.find((f) => f.field === 4 && f.wire === 2)?.bytes;
  const singles = fields.filter((f) => f.field === 4 && f.wire === 5).map((f) => f.bytes!);
  let values: Float32Array;
  if (raw) values = new Float32Array(raw.slice().buffer);
  else if (packed) values = new Float32Array(packed.slice().buffer);
  else values = Float32Array.from(singles.map((b) => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true)));
  const half = new Float16Array(values);
  const out: OutField[] = fields.filter((f) => f.field !== 2 && f.field !== 4 && f.field !== 9);
  out.push({ field: 2, varint: FLOAT16 }, { field: 9, bytes: new Uint8Array(half.buffer) });
  return out;
}

function castNode(input: string, output: string, to: number, name: string): Uint8Array {
  const attr = encodeFields([{ field: 1, bytes: utf8("to") }, { field: 3, varint: to }, { field: 20, varint: 2 }]);
  return encodeFields([
    { field: 1, bytes: utf8(input) },
    { field: 2, bytes: utf8(output) },
    { field: 3, bytes: utf8(name) },
    { field: 4, bytes: utf8("Cast") },
    { field: 5, bytes: attr },
  ]);
}

function elemType(valueInfo: Uint8Array): number | undefined {
  const type = readFields(valueInfo).find((f) => f.field === 2)?.bytes;
  const tensor = type && readFields(type).find((f) => f.field === 1)?.bytes;
  return tensor && readFields(tensor).find((f) => f.field === 1)?.value;
}

/** What the converter did, for reports and tests. */
export interface Fp16Stats {
  /** Initializers converted to float16. */
  convertedInitializers: number;
  /** Initializers kept in float32 (used only by block-listed ops). */
  keptInitializers: number;
  /** Nodes run in float32 because of the block list. */
  blockedNodes: number;
  /** Cast nodes added. */
  castsAdded: number;
}

/**
 * Converts a float32 ONNX model to float16.
 *
 * @example
 * ```ts ignore
 * const { model, stats } = convertToFp16(await Deno.readFile("resnet50.onnx"));
 * ```
 * @param model The `.onnx` bytes.
 * @param blockList Ops to keep in float32.
 * @returns The converted model and what was done.
 */
export function convertToFp16(
  model: Uint8Array,
  blockList: readonly string[] = DEFAULT_FP16_BLOCK_LIST,
): { model: Uint8Array; stats: Fp16Stats } {
  const top = readFields(model);
  const graphField = top.find((f) => f.field === 7 && f.wire === 2);
  if (!graphField?.bytes) throw new SyntaxError("not an ONNX model: no graph");
  const graph = readFields(graphField.bytes);
  const stats: Fp16Stats = { convertedInitializers: 0, keptInitializers: 0, blockedNodes: 0, castsAdded: 0 };

  const nodes = graph.filter((f) => f.field === 1).map((f) => {
    const fields = readFields(f.bytes!);
    return {
      fields,
      op: text(fields.find((g) => g.field === 4)?.bytes),
      inputs: fields.filter((g) => g.field === 1).map((g) => text(g.bytes)),
      outputs: fields.filter((g) => g.field === 2).map((g) => text(g.bytes)),
    };
  });
  const blocked = (op: string) => blockList.includes(op);
  const consumers = new Map<string, string[]>();
  for (const n of nodes) for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n.op]);

  // Initializers: float16, unless only block-listed ops use them.
  const keptFp32 = new Set<string>();
  const initializers: OutField[] = [];
  for (const f of graph.filter((g) => g.field === 5)) {
    const fields = readFields(f.bytes!);
    const name = text(fields.find((g) => g.field === 8)?.bytes);
    const users = consumers.get(name) ?? [];
    const onlyBlocked = users.length > 0 && users.every(blocked);
    const converted = onlyBlocked ? null : tensorToFp16(fields);
    if (converted) {
      stats.convertedInitializers++;
      initializers.push({ field: 5, bytes: encodeFields(converted) });
    } else {
      if (fields.find((g) => g.field === 2)?.value === FLOAT) {
        stats.keptInitializers++;
        keptFp32.add(name);
      }
      initializers.push(f);
    }
  }

  // Graph inputs and outputs keep their float32 types behind Casts.
  const floatInputs = graph.filter((g) => g.field === 11 && elemType(g.bytes!) === FLOAT)
    .map((g) => text(readFields(g.bytes!).find((h) => h.field === 1)?.bytes));
  const floatOutputs = new Set(
    graph.filter((g) => g.field === 12 && elemType(g.bytes!) === FLOAT)
      .map((g) => text(readFields(g.bytes!).find((h) => h.field === 1)?.bytes)),
  );
  const rename = new Map<string, string>();
  for (const i of floatInputs) rename.set(i, `${i}__fp16`);
  const outName = (o: string) => (floatOutputs.has(o) ? `${o}__fp16` : o);
  const inName = (i: string) => rename.get(i) ?? (floatOutputs.has(i) ? `${i}__fp16` : i);

  const newNodes: Uint8Array[] = [];
  for (const i of floatInputs) {
    newNodes.push(castNode(i, `${i}__fp16`, FLOAT16, `${i}__cast_in`));
    stats.castsAdded++;
  }
  let k = 0;
  for (const n of nodes) {
    const isBlocked = blocked(n.op);
    if (isBlocked) stats.blockedNodes++;
    const out: OutField[] = [];
    let inputIndex = 0;
    let outputIndex = 0;
    for (const f of n.fields) {
      if (f.field === 1) {
        const name = n.inputs[inputIndex++]!;
        let src = inName(name);
        const floatSlot = (FLOAT_SLOTS[n.op] ?? [0]).includes(inputIndex - 1);
        if (isBlocked && floatSlot && name !== "" && !keptFp32.has(name)) {
          const up = `${name}__fp32_${k++}`;
          newNodes.push(castNode(src, up, FLOAT, `${up}__cast`));
          stats.castsAdded++;
          src = up;
        }
        out.push({ field: 1, bytes: utf8(src) });
      } else if (f.field === 2) {
        const name = n.outputs[outputIndex++]!;
        out.push({ field: 2, bytes: utf8(isBlocked && name !== "" ? `${name}__fp32` : outName(name)) });
      } else if (f.field === 5) {
        const attr = readFields(f.bytes!);
        const aname = text(attr.find((a) => a.field === 1)?.bytes);
        const t = attr.find((a) => a.field === 5)?.bytes;
        if (n.op === "Cast" && aname === "to" && attr.find((a) => a.field === 3)?.value === FLOAT && !isBlocked) {
          out.push({
            field: 5,
            bytes: encodeFields(attr.map((a) => (a.field === 3 ? { field: 3, varint: FLOAT16 } : a))),
          });
        } else if (t && !isBlocked) {
          const converted = tensorToFp16(readFields(t));
          out.push(
            converted
              ? {
                field: 5,
                bytes: encodeFields(
                  attr.map((a) => (a.field === 5 ? { field: 5, bytes: encodeFields(converted) } : a)),
                ),
              }
              : f,
          );
        } else out.push(f);
      } else out.push(f);
    }
    newNodes.push(encodeFields(out));
    if (isBlocked) {
      for (const o of n.outputs) {
        if (o === "") continue;
        newNodes.push(castNode(`${o}__fp32`, outName(o), FLOAT16, `${o}__cast_back`));
        stats.castsAdded++;
      }
    }
  }
  for (const o of floatOutputs) {
    newNodes.push(castNode(`${o}__fp16`, o, FLOAT, `${o}__cast_out`));
    stats.castsAdded++;
  }

  const newGraph: OutField[] = [];
  let nodesWritten = false;
  let initWritten = false;
  for (const f of graph) {
    if (f.field === 1) {
      if (!nodesWritten) { for (const n of newNodes) newGraph.push({ field: 1, bytes: n }); }
      nodesWritten = true;
    } else if (f.field === 5) {
      if (!initWritten) newGraph.push(...initializers);
      initWritten = true;
    } else if (f.field === 13) {
      continue; // intermediate value_info is stale after conversion; onnxruntime infers it again
    } else newGraph.push(f);
  }
  const newModel = top.map((f) => (f === graphField ? { field: 7, bytes: encodeFields(newGraph) } : f));
  return { model: encodeFields(newModel), stats };
}
