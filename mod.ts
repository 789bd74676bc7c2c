/**
 * clipcmp: OpenAI's CLIP (zero-shot, RN50) and an ImageNet ResNet-50 side by side, on onnxruntime-web's WebGPU
 * backend inside Deno, with hand-written WGSL kernels for preprocessing, cosine similarity and softmax.
 *
 * @example Zero-shot and ImageNet classification, transformers.js style
 * ```ts ignore
 * import { classify, zeroShot } from "./mod.ts";
 * const photos = ["data/samples/photo/n02128385_leopard.jpg"];
 * const [clipTop] = await zeroShot(photos, ["leopard", "tiger", "house cat"], { model: "models/fixtures/clip-tiny" });
 * const [resnetTop] = await classify(photos, { model: "models/fixtures/resnet-tiny", topK: 5 });
 * console.log(clipTop, resnetTop); // [{ label, index, score }, ...] sorted high to low
 * ```
 *
 * @module
 */
export * from "./lib/api.ts";
export * from "./lib/errors.ts";
export * from "./lib/version.ts";
export * from "./lib/gpu/context.ts";
export * from "./lib/gpu/readback.ts";
export * from "./lib/device.ts";
export * from "./lib/ort/session.ts";
export * from "./lib/ort/runtime.ts";
export * from "./lib/image/decode.ts";
export * from "./lib/image/list.ts";
export * from "./lib/preprocess/recipe.ts";
export * from "./lib/preprocess/cpu.ts";
export * from "./lib/math/cpu.ts";
export * from "./lib/text/tokenizer.ts";
export * from "./lib/data/imagenet.ts";
export * from "./lib/models/vision.ts";
export * from "./lib/models/resnet.ts";
export * from "./lib/models/clip.ts";
export * from "./lib/models/locate.ts";
export * from "./lib/scoring.ts";
export * from "./lib/compare.ts";
export * from "./kernels/preprocess.ts";
export * from "./kernels/cosine.ts";
export * from "./kernels/softmax.ts";
export * from "./kernels/_specialize.ts";
export * from "./kernels/topk.ts";
export * from "./lib/npy.ts";
export * from "./lib/data/wordnet.ts";
export * from "./lib/zeroshot.ts";
export * from "./lib/report/metrics.ts";
export * from "./lib/report/write.ts";
export * from "./lib/onnx/proto.ts";
export * from "./lib/image/png.ts";
export * from "./lib/models/manifest.ts";
export * from "./lib/hub/download.ts";
export * from "./lib/eval.ts";
export * from "./lib/faults.ts";
