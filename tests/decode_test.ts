import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import {
  compositeOnWhite,
  decodeImage,
  decodeImageFile,
  MAX_PIXELS,
  readDimensions,
  sniffFormat,
} from "../lib/image/decode.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { FIX } from "./_helpers.ts";

const DIR = `${FIX}/decode`;

/** Max difference between our RGB channels and PIL's `convert("RGB")` bytes. */
async function diffToPil(file: string, refFile = `${file}.rgb`, options = {}): Promise<number> {
  const img = await decodeImageFile(`${DIR}/${file}`, options);
  const ref = await Deno.readFile(`${DIR}/${refFile}`);
  assertEquals(ref.length, img.width * img.height * 3, `${file}: size ${img.width}x${img.height}`);
  let m = 0;
  for (let i = 0; i < img.width * img.height; i++) {
    for (let c = 0; c < 3; c++) m = Math.max(m, Math.abs(img.data[i * 4 + c]! - ref[i * 3 + c]!));
  }
  return m;
}

for (
  const file of [
    "baseline.jpg",
    "progressive.jpg",
    "grayscale.jpg",
    "exif6.jpg",
    "rgb8.png",
    "rgb16.png",
    "gray8.png",
    "palette.png",
    "palette-transparent.png",
    "rgba.png",
    "gray-alpha.png",
  ]
) {
  Deno.test(`decodeImageFile() gives PIL's convert("RGB") pixels exactly for ${file}`, async () => {
    assertEquals(await diffToPil(file), 0);
  });
}

Deno.test("decodeImageFile() decodes CMYK JPEG within 2 levels of PIL (jpeg-js path)", async () => {
  const d = await diffToPil("cmyk.jpg");
  assert(d <= 2, `max difference ${d}`);
});

Deno.test("decodeImageFile() ignores EXIF orientation by default, like PIL, and applies it on request", async () => {
  const plain = await decodeImageFile(`${DIR}/exif6.jpg`);
  assertEquals([plain.width, plain.height], [64, 48]);
  const turned = await decodeImageFile(`${DIR}/exif6.jpg`, { exifOrientation: "apply" });
  assertEquals([turned.width, turned.height], [48, 64]);
  assertEquals(await diffToPil("exif6.jpg", "exif6.jpg.transposed.rgb", { exifOrientation: "apply" }), 0);
});

Deno.test("decodeImageFile() keeps alpha for PIL's drop, and composites onto white on request", async () => {
  const img = await decodeImageFile(`${DIR}/rgba.png`);
  assertEquals(img.data[3], 0); // first column fully transparent
  assertEquals(await diffToPil("rgba.png", "rgba.png.white.rgb", { alpha: "white" }), 0);
  const white = await decodeImageFile(`${DIR}/rgba.png`, { alpha: "white" });
  assertEquals(white.data[3], 255);
  const one = { width: 1, height: 1, data: new Uint8Array([10, 20, 30, 255]) };
  compositeOnWhite(one);
  assertEquals(Array.from(one.data), [10, 20, 30, 255]);
});

Deno.test("sniffFormat() recognises containers by magic bytes, not names", () => {
  const ascii = (s: string) => new TextEncoder().encode(s);
  assertEquals(sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xdb])), "jpeg");
  assertEquals(sniffFormat(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), "png");
  assertEquals(sniffFormat(ascii("GIF89a....")), "gif");
  assertEquals(sniffFormat(ascii("RIFF\0\0\0\0WEBPVP8 ")), "webp");
  assertEquals(sniffFormat(ascii("BM..........")), "bmp");
  assertEquals(sniffFormat(ascii("II*\0........")), "tiff");
  assertEquals(sniffFormat(ascii("hello world!")), "unknown");
});

Deno.test("decodeImage() refuses other formats by name, empty and corrupt files with one-line errors", async () => {
  const ascii = (s: string) => new TextEncoder().encode(s) as Uint8Array<ArrayBuffer>;
  const cases: [Uint8Array<ArrayBuffer>, RegExp][] = [
    [new Uint8Array(0), /"x": empty file/],
    [ascii("GIF89a\x01\x00\x01\x00"), /"x": GIF is not supported \(JPEG and PNG are\)/],
    [ascii("RIFF\0\0\0\0WEBPVP8 "), /"x": WEBP is not supported/],
    [ascii("just some text"), /"x": not a JPEG or PNG file/],
  ];
  const jpeg = await Deno.readFile(`${DIR}/baseline.jpg`);
  cases.push([jpeg.slice(0, 200), /"x": corrupt or unsupported JPEG/]);
  for (const [bytes, pattern] of cases) {
    await rejects(
      decodeImage(bytes, "x"),
      (e: Error) => e instanceof ClipcmpError && pattern.test(e.message) && !e.message.includes("\n"),
    );
  }
});

Deno.test("readDimensions() reads PNG and JPEG sizes from headers, so bombs are refused before decoding", async () => {
  assertEquals(readDimensions(await Deno.readFile(`${DIR}/rgb8.png`), "png"), { width: 64, height: 48 });
  assertEquals(readDimensions(await Deno.readFile(`${DIR}/progressive.jpg`), "jpeg"), { width: 64, height: 48 });
  // A PNG header claiming 30000 x 30000 pixels, with no pixel data behind it.
  const png = (await Deno.readFile(`${DIR}/rgb8.png`)).slice(0, 33);
  new DataView(png.buffer).setUint32(16, 30000);
  new DataView(png.buffer).setUint32(20, 30000);
  assert(30000 * 30000 > MAX_PIXELS);
  await rejects(decodeImage(png, "bomb.png"), /"bomb.png": 30000x30000 exceeds the 178956970-pixel limit/);
});

Deno.test("a truncated JPEG is refused like PIL refuses it, with libjpeg's reason", async () => {
  const jpeg = await Deno.readFile(`${DIR}/baseline.jpg`);
  await rejects(
    decodeImage(jpeg.slice(0, Math.floor(jpeg.length * 0.7)), "cut.jpg"),
    (e: Error) =>
      e instanceof ClipcmpError && /"cut.jpg": corrupt or unsupported JPEG \(truncated JPEG stream\)/.test(e.message),
  );
});
