/**
 * Images: safe decoding (JPEG, PNG; magic bytes and dimensions checked before the rest is read), listing with
 * symlinks followed, PNG encoding and thumbnails.
 *
 * @example Decode a sample photo and make a thumbnail
 * ```ts
 * import { decodeImageFile, encodePng, thumbnail } from "./mod.ts";
 * const img = await decodeImageFile("data/samples/photo/n02128385_leopard.jpg");
 * const small = thumbnail(img, 64);
 * if (Math.max(small.width, small.height) !== 64 || (await encodePng(small))[1] !== 0x50) throw new Error();
 * ```
 *
 * @module
 */
export {
  decodeImage,
  decodeImageFile,
  type DecodeOptions,
  type ImageFormat,
  MAX_PIXELS,
  type RgbaImage,
  sniffFormat,
} from "./decode.ts";
export { listImages, type SkipReporter } from "./list.ts";
export { encodePng, thumbnail } from "./png.ts";
