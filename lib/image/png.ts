/**
 * A small PNG encoder (8-bit RGB, no filtering, zlib via CompressionStream) and a box-filter thumbnailer, for
 * the thumbnails embedded in the HTML report.
 *
 * @module
 */
import type { RgbaImage } from "./decode.ts";
import { concatBytes } from "../bytes.ts";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (IEEE), as PNG chunks use.
 *
 * @param bytes The data.
 * @returns The CRC.
 */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * Checks the CRC of every PNG chunk except the image data, as PIL does when it opens a file (it refuses a bad
 * CRC in IHDR, PLTE, tRNS and the like, and leaves IDAT to the decoder, which does not check it either).
 *
 * @param b The PNG bytes.
 * @returns null when the chunks are sound, else what is wrong.
 */
export function pngChunkProblem(b: Uint8Array): string | null {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 8;
  while (p + 12 <= b.length) {
    const len = view.getUint32(p);
    const type = String.fromCharCode(...b.subarray(p + 4, p + 8));
    if (p + 12 + len > b.length) return `truncated ${type} chunk`;
    if (type !== "IDAT" && crc32(b.subarray(p + 4, p + 8 + len)) !== view.getUint32(p + 8 + len)) {
      return `bad CRC in the ${type} chunk`;
    }
    if (type === "IEND") return null;
    p += 12 + len;
  }
  return "no IEND chunk (truncated file)";
}

async function zlib(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes RGBA pixels as an 8-bit RGB PNG (alpha dropped).
 *
 * @example
 * ```ts ignore
 * const png = await encodePng({ width: 1, height: 1, data: new Uint8Array([255, 0, 0, 255]) });
 * ```
 * @param img The image.
 * @returns PNG bytes.
 */
export async function encodePng(img: RgbaImage): Promise<Uint8Array<ArrayBuffer>> {
  const { width, height, data } = img;
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 3);
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 4;
      raw.set([data[s]!, data[s + 1]!, data[s + 2]!], row + 1 + x * 3);
    }
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  return concatBytes(parts);
}

/**
 * Shrinks an image so its longer side is at most `max` pixels, averaging each source box.
 *
 * @param img The image.
 * @param max Longest side of the result.
 * @returns The thumbnail (the image itself when already small enough).
 */
export function thumbnail(img: RgbaImage, max: number): RgbaImage {
  const scale = Math.min(1, max / Math.max(img.width, img.height));
  if (scale === 1) return img;
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const out = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    const y0 = Math.floor((y * img.height) / h), y1 = Math.max(y0 + 1, Math.floor(((y + 1) * img.height) / h));
    for (let x = 0; x < w; x++) {
      const x0 = Math.floor((x * img.width) / w), x1 = Math.max(x0 + 1, Math.floor(((x + 1) * img.width) / w));
      const acc = [0, 0, 0, 0];
      for (let yy = y0; yy < y1; yy++) {
        for (let xx = x0; xx < x1; xx++) {
          const s = (yy * img.width + xx) * 4;
          for (let c = 0; c < 4; c++) acc[c]! += img.data[s + c]!;
        }
      }
      const n = (y1 - y0) * (x1 - x0);
      for (let c = 0; c < 4; c++) out[(y * w + x) * 4 + c] = Math.round(acc[c]! / n);
    }
  }
  return { width: w, height: h, data: out };
}
