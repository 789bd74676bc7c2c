/**
 * The WGSL engine's op coverage (issue 18): exactly the ONNX ops the two architectures' graphs use (the graphs
 * built from the canonical weights, the published exports' op set, and the test fixtures). A graph with any other
 * op is refused, with the op named, before anything is uploaded or run.
 *
 * @example
 * ```ts
 * import { ENGINE_OPS, unsupportedOps } from "./ops.ts";
 * if (!ENGINE_OPS.has("Conv") || unsupportedOps({ Conv: 3, Loop: 1 }).join() !== "Loop") throw new Error();
 * ```
 *
 * @module
 */
import { onnxOpCounts } from "../onnx/proto.ts";
import { ClipcmpError } from "../errors.ts";

/** Every op the engine executes. Shape-only ops (Shape, Constant, Identity, ...) are folded at load. */
export const ENGINE_OPS: ReadonlySet<string> = new Set([
  // ResNet-50 and CLIP's modified ResNet
  "Conv",
  "BatchNormalization",
  "Relu",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "Pad",
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Sigmoid",
  "Gemm",
  "MatMul",
  "Flatten",
  // CLIP's attention pooling and text tower
  "Reshape",
  "Transpose",
  "Concat",
  "Split",
  "Slice",
  "Softmax",
  "LayerNormalization",
  "ReduceMean",
  "ReduceSum",
  "Sqrt",
  "Erf",
  "Gather",
  "GatherND",
  "ArgMax",
  "Cast",
  "Unsqueeze",
  // Folded at load: they compute shapes or constants, not activations.
  "Shape",
  "Constant",
  "Identity",
  "Range",
]);

/**
 * The ops of a graph the engine does not execute.
 *
 * @param counts Op type to node count (see `onnxOpCounts`).
 * @returns The unsupported op types, sorted.
 */
export function unsupportedOps(counts: Readonly<Record<string, number>>): string[] {
  return Object.keys(counts).filter((op) => !ENGINE_OPS.has(op)).sort();
}

/**
 * Refuses a graph that uses an op the engine does not run, in one line naming the ops and the file.
 *
 * @param model The ONNX bytes.
 * @param file Its path, for the message.
 */
export function checkEngineOps(model: Uint8Array, file: string): void {
  const counts = onnxOpCounts(model);
  const bad = unsupportedOps(counts);
  if (bad.length) {
    throw new ClipcmpError(
      `--engine wgsl: ${file} uses ${
        bad.map((op) => `${op} (${counts[op]} node${counts[op] === 1 ? "" : "s"})`).join(", ")
      }, which the WGSL engine does not run; use --engine ort for this model`,
    );
  }
}
