/**
 * clipcmp: OpenAI's CLIP (zero-shot, RN50) and an ImageNet ResNet-50 side by side, on onnxruntime-web's WebGPU
 * backend inside Deno, with hand-written WGSL kernels for preprocessing, cosine similarity and softmax.
 *
 * @example Compare both models on the demo photos
 * ```ts ignore
 * import { ClipModel, compareModels, listImages, resolveDevice, resolveResnet, ResnetModel } from "./mod.ts";
 * const device = await resolveDevice("auto");
 * const clip = await ClipModel.load("models/fixtures/clip-tiny", device);
 * const resnet = await ResnetModel.load(await resolveResnet("models/fixtures/resnet-tiny"), device);
 * const doc = await compareModels({
 *   images: await listImages(["data/samples/photo"]),
 *   clip,
 *   resnet,
 *   device,
 *   template: "a photo of a {}.",
 * });
 * console.log(doc.summary);
 * ```
 *
 * @module
 */
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
