/**
 * Decodes JPEG and PNG files to RGBA8 on the CPU with libjpeg-turbo/libpng builds compiled to wasm
 * (@jsquash), which match PIL's decoders pixel for pixel. EXIF orientation is not applied and alpha is kept in
 * the RGBA data; the preprocessing drops it as PIL's `convert("RGB")` does.
 *
 * @module
 */
import decodeJpeg from "@jsquash/jpeg/decode";
import decodePng from "@jsquash/png/decode";
import { ClipcmpError, firstLine } from "../errors.ts";

/** A decoded image: `width * height` RGBA8 pixels, row-major. */
export interface RgbaImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGBA8 pixels. */
  data: Uint8Array;
}

/** Largest pixel count we decode (about 178 megapixels, PIL's decompression-bomb error limit). */
export const MAX_PIXELS = 178_956_970;

/** Image container formats recognised by their magic bytes. */
export type ImageFormat = "jpeg" | "png" | "gif" | "webp" | "bmp" | "tiff" | "unknown";

/**
 * Recognises an image format from its first bytes.
 *
 * @example
 * ```ts
 * import { sniffFormat } from "./decode.ts";
 * if (sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])) !== "jpeg") throw new Error();
 * ```
 * @param b The file's bytes.
 * @returns The format.
 */
export function sniffFormat(b: Uint8Array): ImageFormat {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "png";
  const ascii = new TextDecoder("latin1").decode(b.subarray(0, 12));
  if (ascii.startsWith("GIF8")) return "gif";
  if (ascii.startsWith("RIFF") && ascii.slice(8, 12) === "WEBP") return "webp";
  if (ascii.startsWith("BM")) return "bmp";
  if (ascii.startsWith("II*\0") || ascii.startsWith("MM\0*")) return "tiff";
  return "unknown";
}

/**
 * Reads and decodes an image file.
 *
 * @example Decode a sample photo
 * ```ts ignore
 * const img = await decodeImageFile("data/samples/photo/n01614925_bald_eagle.jpg");
 * console.log(img.width, img.height);
 * ```
 * @param path The file.
 * @returns RGBA8 pixels.
 */
export async function decodeImageFile(path: string): Promise<RgbaImage> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new ClipcmpError(`Cannot read image "${path}": file not found`);
    if (err instanceof Deno.errors.IsADirectory) throw new ClipcmpError(`Cannot read image "${path}": is a directory`);
    throw new ClipcmpError(`Cannot read image "${path}": ${firstLine(err)}`);
  }
  return await decodeImage(bytes, path);
}

/**
 * Decodes image bytes.
 *
 * @param bytes The encoded image.
 * @param name The file name, for messages.
 * @returns RGBA8 pixels.
 */
export async function decodeImage(bytes: Uint8Array<ArrayBuffer>, name: string): Promise<RgbaImage> {
  if (bytes.length === 0) throw new ClipcmpError(`Cannot decode image "${name}": empty file`);
  const format = sniffFormat(bytes);
  if (format !== "jpeg" && format !== "png") {
    const what = format === "unknown"
      ? "not a JPEG or PNG file"
      : `${format.toUpperCase()} is not supported (JPEG and PNG are)`;
    throw new ClipcmpError(`Cannot decode image "${name}": ${what}`);
  }
  const dims = readDimensions(bytes, format);
  if (dims && dims.width * dims.height > MAX_PIXELS) {
    throw new ClipcmpError(
      `Cannot decode image "${name}": ${dims.width}x${dims.height} exceeds the ${MAX_PIXELS}-pixel limit (decompression bomb?)`,
    );
  }
  let img: ImageData;
  try {
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    img = format === "jpeg" ? await decodeJpeg(buf) : await decodePng(buf);
  } catch (err) {
    throw new ClipcmpError(`Cannot decode image "${name}": corrupt ${format.toUpperCase()} (${firstLine(err)})`);
  }
  if (!img || img.width === 0 || img.height === 0) throw new ClipcmpError(`Cannot decode image "${name}": no pixels`);
  return {
    width: img.width,
    height: img.height,
    data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength),
  };
}

/**
 * Reads an image's size from its header, before any pixel memory is allocated.
 *
 * @param b The encoded image.
 * @param format Its format.
 * @returns The size, or null when the header does not say.
 */
export function readDimensions(b: Uint8Array, format: ImageFormat): { width: number; height: number } | null {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (format === "png") {
    return b.length >= 24 ? { width: view.getUint32(16), height: view.getUint32(20) } : null;
  }
  if (format !== "jpeg") return null;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) {
      i++;
      continue;
    }
    const marker = b[i + 1]!;
    if (marker === 0xff || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += marker === 0xff ? 1 : 2;
      continue;
    }
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return { height: view.getUint16(i + 5), width: view.getUint16(i + 7) };
    i += 2 + view.getUint16(i + 2);
  }
  return null;
}
