/**
 * Decodes JPEG and PNG files to RGBA8 on the CPU with libjpeg-turbo/libpng builds compiled to wasm
 * (@jsquash), which match PIL's decoders pixel for pixel: baseline and progressive JPEG, grayscale JPEG,
 * 8- and 16-bit PNG, palette, grayscale and alpha PNG. CMYK JPEGs, which that libjpeg build cannot convert,
 * go through jpeg-js (pure JS; within a level or two of libjpeg).
 *
 * Defaults follow PIL, which the reference preprocessing uses: EXIF orientation is not applied, and alpha is
 * dropped (`convert("RGB")`), not composited. {@linkcode DecodeOptions} selects the other choices.
 *
 * @module
 */
// deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
import decodeJpeg, { init as initJpeg } from "npm:@jsquash/jpeg@1.6.0/decode.js";
// deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
import decodePng from "npm:@jsquash/png@3.1.1/decode.js";
// deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
import jpegJs from "npm:jpeg-js@0.4.4";
import { pngChunkProblem } from "./png.ts";
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

/** libjpeg's messages during the current decode (it reports warnings and errors through printErr). */
let jpegMessages: string[] = [];
let jpegReady: Promise<void> | undefined;

async function decodeJpegQuiet(buf: ArrayBuffer, preserveOrientation: boolean): Promise<ImageData> {
  jpegReady ??= initJpeg({ printErr: (m: string) => jpegMessages.push(m), print: () => {} } as never);
  await jpegReady;
  jpegMessages = [];
  let img: ImageData;
  try {
    img = await decodeJpeg(buf, { preserveOrientation });
  } catch {
    throw new Error(jpegMessages.at(-1) ?? "decoder error");
  }
  // PIL refuses truncated JPEGs ("image file is truncated") where libjpeg only warns and pads with grey.
  if (jpegMessages.some((m) => /Premature end of JPEG file/.test(m))) throw new Error("truncated JPEG stream");
  return img;
}

/** How to treat EXIF orientation and alpha. */
export interface DecodeOptions {
  /** `ignore` (PIL's default, the reference) or `apply` the JPEG EXIF Orientation tag. */
  exifOrientation?: "ignore" | "apply";
  /** `drop` alpha like PIL's `convert("RGB")` (the reference), or composite onto `white`. */
  alpha?: "drop" | "white";
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
export async function decodeImageFile(path: string, options: DecodeOptions = {}): Promise<RgbaImage> {
  return await decodeImage(await readImageBytes(path), path, options);
}

/** The first bytes read of an image file, enough for any JPEG or PNG header we check. */
const HEAD_BYTES = 64 * 1024;

function readError(path: string, err: unknown): ClipcmpError {
  if (err instanceof ClipcmpError) return err;
  if (err instanceof Deno.errors.NotFound) return new ClipcmpError(`Cannot read image "${path}": file not found`);
  if (err instanceof Deno.errors.IsADirectory) return new ClipcmpError(`Cannot read image "${path}": is a directory`);
  return new ClipcmpError(`Cannot read image "${path}": ${firstLine(err)}`);
}

/**
 * Opens an image file for reading, refusing what is not a regular file (a device such as `/dev/zero`, a FIFO or a
 * socket, also behind a symlink), which could never end or would block. `stat` follows symlinks and never blocks.
 */
async function openRegular(path: string): Promise<{ file: Deno.FsFile; size: number }> {
  const st = await Deno.stat(path);
  if (st.isDirectory) throw new Deno.errors.IsADirectory(path);
  if (!st.isFile) {
    throw new ClipcmpError(`Cannot read image "${path}": not a regular file (a device, FIFO or socket)`);
  }
  return { file: await Deno.open(path), size: st.size };
}

/**
 * Reads an image file: its header first (format by magic bytes, dimensions against the pixel limit), then the
 * rest, so a file that is not an image, or a decompression bomb, is refused after 64 KB.
 *
 * @param path The file.
 * @returns Its bytes.
 */
export async function readImageBytes(path: string): Promise<Uint8Array<ArrayBuffer>> {
  try {
    const { file, size } = await openRegular(path);
    using f = file;
    const bytes = new Uint8Array(size);
    let n = 0;
    let checked = false;
    while (n < size) {
      const got = await f.read(bytes.subarray(n, Math.min(size, checked ? size : HEAD_BYTES)));
      if (got === null) break;
      n += got;
      if (!checked && (n >= HEAD_BYTES || n === size)) {
        checkHeader(bytes.subarray(0, n), path);
        checked = true;
      }
    }
    if (!checked) checkHeader(bytes.subarray(0, n), path);
    return n === size ? bytes : bytes.slice(0, n);
  } catch (err) {
    throw readError(path, err);
  }
}

/**
 * Cheap checks before decoding: the file is readable, a JPEG or PNG by its magic bytes, and not over the pixel
 * limit by its header. Throws the same one-line errors as {@linkcode decodeImageFile}; corrupt pixel data is
 * only found by decoding.
 *
 * @param path The file.
 */
export async function precheckImageFile(path: string): Promise<void> {
  let head: Uint8Array<ArrayBuffer>;
  try {
    const { file } = await openRegular(path);
    using f = file;
    head = new Uint8Array(HEAD_BYTES);
    const n = (await f.read(head)) ?? 0;
    head = head.slice(0, n);
  } catch (err) {
    throw readError(path, err);
  }
  checkHeader(head, path);
}

function checkHeader(bytes: Uint8Array, name: string): "jpeg" | "png" {
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
  return format;
}

/**
 * Decodes image bytes.
 *
 * @param bytes The encoded image.
 * @param name The file name, for messages.
 * @param options EXIF orientation and alpha handling.
 * @returns RGBA8 pixels; with `alpha: "white"` the alpha channel is composited and set to 255.
 */
export async function decodeImage(
  bytes: Uint8Array<ArrayBuffer>,
  name: string,
  options: DecodeOptions = {},
): Promise<RgbaImage> {
  const format = checkHeader(bytes, name);
  let img: ImageData;
  try {
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    if (format === "png") {
      const problem = pngChunkProblem(bytes);
      if (problem) throw new Error(problem);
      img = await decodePng(buf);
    } else if (jpegFrame(bytes)?.components === 4) img = decodeCmykJpeg(bytes);
    else img = await decodeJpegQuiet(buf, options.exifOrientation === "apply");
  } catch (err) {
    let why = err instanceof Error ? err.message : typeof err === "string" ? err : "decoder error";
    // The wasm decoders trap on some corrupt data with messages meant for their developers.
    if (/^unreachable|unwrap_throw|RuntimeError|memory access out of bounds/i.test(firstLine(why))) {
      why = "the decoder could not read the pixel data; the file is damaged";
    }
    throw new ClipcmpError(
      `Cannot decode image "${name}": corrupt or unsupported ${format.toUpperCase()} (${firstLine(why)})`,
    );
  }
  if (!img || img.width === 0 || img.height === 0) throw new ClipcmpError(`Cannot decode image "${name}": no pixels`);
  const out = {
    width: img.width,
    height: img.height,
    data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength),
  };
  if (options.alpha === "white") compositeOnWhite(out);
  return out;
}

/**
 * Composites RGBA8 pixels onto white in place, rounding to nearest, and sets alpha to 255.
 *
 * @example
 * ```ts
 * import { compositeOnWhite } from "./decode.ts";
 * const img = { width: 1, height: 1, data: new Uint8Array([0, 100, 255, 128]) };
 * compositeOnWhite(img);
 * if (img.data.join() !== "127,177,255,255") throw new Error(img.data.join());
 * ```
 * @param img The image.
 */
export function compositeOnWhite(img: RgbaImage): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3]!;
    for (let c = 0; c < 3; c++) d[i + c] = Math.round((d[i + c]! * a + 255 * (255 - a)) / 255);
    d[i + 3] = 255;
  }
}

function decodeCmykJpeg(bytes: Uint8Array): ImageData {
  const img = jpegJs.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 4096 });
  const data = new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  return { width: img.width, height: img.height, data } as ImageData;
}

/**
 * Reads an image's size from its header, before any pixel memory is allocated.
 *
 * @param b The encoded image.
 * @param format Its format.
 * @returns The size, or null when the header does not say.
 */
export function readDimensions(b: Uint8Array, format: ImageFormat): { width: number; height: number } | null {
  if (format === "png") {
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return b.length >= 24 ? { width: view.getUint32(16), height: view.getUint32(20) } : null;
  }
  if (format !== "jpeg") return null;
  const frame = jpegFrame(b);
  return frame && { width: frame.width, height: frame.height };
}

/**
 * The size and colour-component count from a JPEG's frame (SOF) header.
 *
 * @param b The JPEG bytes.
 * @returns The frame facts, or null when no frame header is found.
 */
export function jpegFrame(b: Uint8Array): { width: number; height: number; components: number } | null {
  let i = 2;
  const u16 = (k: number) => (b[k]! << 8) | b[k + 1]!;
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
    if (isSof) return { height: u16(i + 5), width: u16(i + 7), components: b[i + 9]! };
    i += 2 + u16(i + 2);
  }
  return null;
}
