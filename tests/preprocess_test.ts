import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { decodeImageFile } from "../lib/image/decode.ts";
import { resizeCropCpu } from "../lib/preprocess/cpu.ts";
import {
  centerCropOffset,
  CLIP_RECIPE,
  planPreprocess,
  type Recipe,
  resizedSize,
  roundHalfEven,
  TORCHVISION_RECIPE,
} from "../lib/preprocess/recipe.ts";
import { FIX, ROOT } from "./_helpers.ts";

Deno.test("resizedSize() truncates the long side like torchvision Resize(int)", () => {
  assertEquals(resizedSize(500, 375, 256), { width: 341, height: 256 });
  assertEquals(resizedSize(375, 500, 224), { width: 224, height: 298 });
  assertEquals(resizedSize(224, 224, 224), { width: 224, height: 224 });
  assertEquals(resizedSize(7, 300, 224), { width: 224, height: 9600 });
});

Deno.test("centerCropOffset() rounds half to even like Python's round()", () => {
  assertEquals(roundHalfEven(58.5), 58);
  assertEquals(roundHalfEven(59.5), 60);
  assertEquals(roundHalfEven(0.5), 0);
  assertEquals(centerCropOffset(341, 224), 58);
  assertEquals(centerCropOffset(343, 224), 60);
  assertEquals(centerCropOffset(224, 224), 0);
});

Deno.test("planPreprocess() refuses empty images with a RangeError", () => {
  let threw = false;
  try {
    planPreprocess(0, 10, CLIP_RECIPE);
  } catch (err) {
    threw = err instanceof RangeError;
  }
  assert(threw);
});

Deno.test("planPreprocess() weights sum to 1 in 22-bit fixed point for every output", () => {
  for (const [w, h] of [[500, 375], [7, 300], [1, 1], [1600, 1200]]) {
    for (const r of [CLIP_RECIPE, TORCHVISION_RECIPE]) {
      const p = planPreprocess(w!, h!, r);
      for (const axis of [p.h, p.v]) {
        for (let i = 0; i < r.crop; i++) {
          let s = 0;
          for (let k = 0; k < axis.count[i]!; k++) s += axis.weights[i * axis.ksize + k]!;
          assert(Math.abs(s - (1 << 22)) <= axis.count[i]!, `sum ${s} for ${w}x${h} ${r.name}`);
        }
      }
    }
  }
});

async function pilCrop(name: string, recipe: "clip" | "resnet"): Promise<Uint8Array> {
  const img = await decodeImageFile(`${FIX}/preprocess/${name}.${recipe}.png`);
  assertEquals([img.width, img.height], [224, 224]);
  const out = new Uint8Array(3 * 224 * 224);
  for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) out[c * 224 * 224 + i] = img.data[i * 4 + c]!;
  return out;
}

const PARITY_IMAGES = ["n01614925_bald_eagle", "n01632777_axolotl", "n01677366_common_iguana"];

for (
  const [tag, recipe] of [["clip", CLIP_RECIPE], ["resnet", TORCHVISION_RECIPE]] as [("clip" | "resnet"), Recipe][]
) {
  Deno.test(`resizeCropCpu() matches PIL ${recipe.filter} resize + centre-crop exactly (${tag} recipe)`, async () => {
    for (const name of PARITY_IMAGES) {
      const img = await decodeImageFile(`${ROOT}/data/samples/photo/${name}.jpg`);
      const ours = resizeCropCpu(img, planPreprocess(img.width, img.height, recipe));
      const ref = await pilCrop(name, tag);
      let diff = 0;
      for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
      assertEquals(diff, 0, `${name}: max uint8 difference ${diff}`);
    }
  });
}
