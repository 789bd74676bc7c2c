/**
 * The models: the manifest and its downloads, local-path resolution (weights built into ONNX once), and the loaded
 * CLIP and ResNet objects with their sessions.
 *
 * @example Resolve a local ResNet and count what it loads
 * ```ts
 * import { ResnetModel, resolveResnetArg } from "./mod.ts";
 * const chosen = await resolveResnetArg("models/fixtures/resnet-tiny", undefined, {
 *   endpoint: "https://huggingface.co",
 *   cacheDir: "tests/.tmp/doc-cache",
 *   offline: true,
 * }, () => {});
 * await using model = await ResnetModel.load(chosen.source, { ep: "wasm" });
 * if (chosen.name !== "resnet-tiny" || model.source.recipe.crop !== 224) throw new Error();
 * ```
 *
 * @module
 */
export { CLIP_LOGIT_SCALE, ClipModel } from "./clip.ts";
export { type ResnetInput, ResnetModel, type ResnetSource, resolveResnet } from "./resnet.ts";
export {
  type CachedModel,
  checkIo,
  defaultModelId,
  ensureModel,
  manifest,
  type ManifestEntry,
  type ModelFetchOptions,
} from "./manifest.ts";
export {
  modelNameOfPath,
  resolveClipArg,
  type ResolvedClip,
  type ResolvedResnet,
  resolveResnetArg,
} from "./resolve.ts";
export { cacheDir } from "./locate.ts";
