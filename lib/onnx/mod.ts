/**
 * ONNX without onnxruntime: read and write the protobuf, build graphs, convert to fp16, make the batch dynamic,
 * count parameters by PyTorch's rules.
 *
 * @example Count a fixture's parameters and convert it to fp16
 * ```ts
 * import { convertToFp16, countParams } from "./mod.ts";
 * const bytes = await Deno.readFile("models/fixtures/resnet-tiny/model.onnx");
 * const { model, stats } = convertToFp16(bytes);
 * if (countParams(bytes).pytorch_equivalent <= 0 || stats.convertedInitializers === 0 || model.length === 0) {
 *   throw new Error();
 * }
 * ```
 *
 * @module
 */
export { encodeFields, onnxInitializers, onnxOpCounts, readFields } from "./proto.ts";
export { OnnxGraph } from "./build.ts";
export { convertToFp16, DEFAULT_FP16_BLOCK_LIST, type Fp16Stats } from "./fp16.ts";
export { rewriteBatchDynamic } from "./batch.ts";
export { countParams, type ParamCount } from "./params.ts";
