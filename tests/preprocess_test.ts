import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { decodeImageFile } from "../lib/image/decode.ts";
import { preprocessCpu, resizeCropCpu } from "../lib/preprocess/cpu.ts";
import {
  centerCropOffset,
  CLIP_RECIPE,
  planPreprocess,
  type Recipe,
  resizedSize,
  roundHalfEven,
  TORCHVISION_RECIPE,
  unitRecipe,
} from "../lib/preprocess/recipe.ts";
import { FIX } from "./_helpers.ts";

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

const PARITY = `${FIX}/parity`;
const parity: { inputs: string[]; normalize_by_level: Record<string, number[][]> } = JSON.parse(
  await Deno.readTextFile(`${PARITY}/parity.json`),
);

/** PIL's 224x224 crop of `name` for a recipe, as CHW uint8. */
async function pilCrop(name: string, recipe: "clip" | "resnet"): Promise<Uint8Array> {
  const img = await decodeImageFile(`${PARITY}/${name}.${recipe}.png`);
  assertEquals([img.width, img.height], [224, 224]);
  const out = new Uint8Array(3 * 224 * 224);
  for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) out[c * 224 * 224 + i] = img.data[i * 4 + c]!;
  return out;
}

Deno.test("parity inputs cover landscape, portrait, already-224, tiny and >1500 px, in JPEG and PNG", async () => {
  const sizes = await Promise.all(parity.inputs.map(async (n) => {
    const img = await decodeImageFile(`${PARITY}/${n}`);
    return [img.width, img.height];
  }));
  assert(sizes.some(([w, h]) => w! > h!), "landscape");
  assert(sizes.some(([w, h]) => h! > w!), "portrait");
  assert(sizes.some(([w, h]) => w === 224 && h === 224), "already 224");
  assert(sizes.some(([w]) => w! < 10), "tiny");
  assert(sizes.some(([w, h]) => Math.max(w!, h!) > 1500), "large");
  assert(parity.inputs.some((n) => n.endsWith(".jpg")) && parity.inputs.some((n) => n.endsWith(".png")));
});

for (const [tag, recipe] of [["clip", CLIP_RECIPE], ["resnet", TORCHVISION_RECIPE]] as ["clip" | "resnet", Recipe][]) {
  Deno.test(`resizeCropCpu() matches PIL ${recipe.filter} resize + centre-crop byte for byte (${tag} recipe)`, async () => {
    for (const name of parity.inputs) {
      const img = await decodeImageFile(`${PARITY}/${name}`);
      const ours = resizeCropCpu(img, planPreprocess(img.width, img.height, recipe));
      const ref = await pilCrop(name, tag);
      let diff = 0;
      for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
      assertEquals(diff, 0, `${name}: max uint8 difference ${diff}`);
    }
  });

  Deno.test(`preprocessCpu() matches PIL + torchvision within 1/255 (${tag} recipe, normalised f32)`, async () => {
    const norm = parity.normalize_by_level[tag === "clip" ? "clip" : "torchvision"]!;
    for (const name of parity.inputs) {
      const img = await decodeImageFile(`${PARITY}/${name}`);
      const ref = await pilCrop(name, tag);
      const out = new Float32Array(3 * 224 * 224);
      preprocessCpu(img, recipe, out, 0);
      const plane = 224 * 224;
      let worst = 0;
      for (let i = 0; i < out.length; i++) {
        const c = Math.floor(i / plane);
        const want = norm[c]![ref[i]!]!;
        worst = Math.max(worst, Math.abs(out[i]! - want) * recipe.std[c]!); // in [0,1] pixel units
      }
      assert(worst <= 1 / 255, `${name}: ${worst * 255} levels`);
      assert(worst <= 1e-6, `${name}: expected float rounding only, got ${worst}`);
    }
  });
}

Deno.test("preprocessCpu() normalises every uint8 level exactly as torchvision ToTensor + Normalize", () => {
  for (
    const [name, recipe] of [["clip", CLIP_RECIPE], ["torchvision", TORCHVISION_RECIPE], [
      "unit",
      unitRecipe(TORCHVISION_RECIPE),
    ]] as const
  ) {
    for (const v of [0, 1, 2, 127, 128, 200, 254, 255]) {
      const img = { width: 224, height: 224, data: new Uint8Array(224 * 224 * 4).fill(v) };
      const out = new Float32Array(3 * 224 * 224);
      preprocessCpu(img, { ...recipe, resize: 224 }, out, 0);
      for (let c = 0; c < 3; c++) {
        const want = parity.normalize_by_level[name]![c]![v]!;
        assert(
          Math.abs(out[c * 224 * 224]! - want) <= 2e-7 * Math.max(1, Math.abs(want)),
          `${name} c${c} v${v}: ${out[c * 224 * 224]} vs ${want}`,
        );
      }
    }
  }
});
