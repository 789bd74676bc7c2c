/**
 * clipcmp: OpenAI's CLIP (zero-shot) and an ImageNet ResNet side by side, on onnxruntime-web's WebGPU backend
 * inside Deno, with hand-written WGSL kernels for preprocessing, cosine similarity, softmax and top-k.
 *
 * This entry point is the scripting API, shaped like transformers.js pipelines: load once, call many times, get
 * sorted `{ label, index, score }[]` per image. The building blocks have their own entry points: `./kernels`,
 * `./models`, `./image`, `./onnx`, `./report`, `./data` (see deno.json's `exports`).
 *
 * @example Load once, classify twice (the repository's tiny fixtures; use "clip-rn50" and "resnet50" for the real models)
 * ```ts
 * import { imageClassifier, zeroShotClassifier } from "./mod.ts";
 * const photos = ["data/samples/photo/n02128385_leopard.jpg", "data/samples/photo/n01614925_bald_eagle.jpg"];
 * await using clip = await zeroShotClassifier("models/fixtures/clip-tiny", { device: "wasm" });
 * const first = await clip(photos, ["leopard", "bald eagle", "tiger"]);
 * const again = await clip(photos.slice(0, 1), ["leopard", "bald eagle", "tiger"], { topK: 1 });
 * if (first.length !== 2 || again[0]![0]!.label !== first[0]![0]!.label) throw new Error("not reused");
 * await using resnet = await imageClassifier("models/fixtures/resnet-tiny", { device: "wasm" });
 * const [top] = await resnet(photos, { topK: 3 });
 * if (top!.length !== 3 || top![0]!.score < top![1]!.score) throw new Error("not sorted");
 * ```
 *
 * @module
 */
export {
  type CallOptions,
  classify,
  type ImageClassifier,
  imageClassifier,
  type ImageInput,
  type LoadOptions,
  type PipelineOptions,
  type ScoredLabel,
  zeroShot,
  type ZeroShotClassifier,
  zeroShotClassifier,
} from "./lib/api.ts";
export { ClipcmpError, UsageError } from "./lib/errors.ts";
export { VERSION } from "./lib/version.ts";
export type { DeviceChoice, ResolvedDevice } from "./lib/device.ts";
export type { RgbaImage } from "./lib/image/decode.ts";
