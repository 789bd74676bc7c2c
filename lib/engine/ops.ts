/**
 * The WGSL engine's op coverage (issue 18): the ONNX ops of the two architectures' graphs (the graphs built from
 * the canonical weights, the published exports' op set, and the test fixtures) and the shape arithmetic exporters
 * write. A graph with any other op is refused, with the op named, before anything is uploaded or run.
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
import { GPU_OPS, SHAPE_OPS } from "./plan.ts";
import { FOLDABLE_OPS } from "./fold.ts";
import { ClipcmpError } from "../errors.ts";

/**
 * Every op the engine executes: on the GPU or as a view (`GPU_OPS`), and at load when its inputs are constants
 * (`FOLDABLE_OPS`: the shape arithmetic of exported graphs; `Shape` and `Size` are known from the input dims).
 */
export const ENGINE_OPS: ReadonlySet<string> = new Set([...GPU_OPS, ...SHAPE_OPS, ...FOLDABLE_OPS]);

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
