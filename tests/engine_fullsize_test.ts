/**
 * The WGSL engine on full-size models with random weights (torchvision ResNet-50, CLIP RN50's image and text
 * towers, built by the canonical builders) against ORT wasm: fp32 within 1e-3 with the same top-5, fp16 within
 * the fp16 self-test's bounds. Batch 1 and 2 on llvmpipe; the same test runs on a GPU where there is one.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { convertToFp16 } from "../lib/onnx/fp16.ts";
import { ModelSession } from "../lib/ort/session.ts";
import { WgslSession } from "../lib/engine/session.ts";
import { fp16SelfCheck } from "../lib/fp16.ts";
import { softmaxCpu } from "../lib/math/cpu.ts";
import { assertClose, assertSameTop5, bothEngines, type Feed, randomFeed } from "./_engine.ts";
import { fullClipRn50, fullResnet50 } from "./_fullsize.ts";
import { HAS_F16, HAS_GPU, rng, withDevice } from "./_helpers.ts";

const CLIP = HAS_GPU ? fullClipRn50() : null;
const MODELS: { name: string; model: () => Uint8Array; feed: (batch: number) => Record<string, Feed> }[] = [
  {
    name: "ResNet-50",
    model: () => fullResnet50(),
    feed: (b) => ({ pixel_values: randomFeed(rng(b), [b, 3, 224, 224]) }),
  },
  {
    name: "CLIP RN50 visual",
    model: () => CLIP!.visual,
    feed: (b) => ({ image: randomFeed(rng(b), [b, 3, 224, 224]) }),
  },
  {
    name: "CLIP RN50 textual",
    model: () => CLIP!.textual,
    feed: (b) => {
      const r = rng(b), ids = new Int32Array(b * 77);
      for (let i = 0; i < b; i++) {
        const len = 5 + i * 7;
        ids[i * 77] = 49406;
        for (let j = 1; j < len; j++) ids[i * 77 + j] = Math.floor(r() * 49405);
        ids[i * 77 + len] = 49407;
      }
      return { text: { type: "int32", data: ids, dims: [b, 77] } };
    },
  },
];

for (const m of MODELS) {
  Deno.test({
    name: `full-size ${m.name} (random weights): the engine matches ORT wasm in fp32 (batch 1 and 2) and fp16`,
    ignore: !HAS_GPU,
    async fn() {
      const bytes = m.model();
      for (const batch of [1, 2]) {
        for (const r of await bothEngines(bytes, m.feed(batch))) {
          assertClose(r, 1e-3, `${m.name} batch ${batch}`);
          assertSameTop5(r, 1e-3, `${m.name} batch ${batch}`);
        }
      }
      if (!HAS_F16) return;
      const feeds = m.feed(2);
      const ort = await ModelSession.fromBytes(m.name, "", bytes, { ep: "wasm" });
      const want = await ort.run(feeds);
      await withDevice(async ({ device }) => {
        const eng = new WgslSession(device, convertToFp16(bytes).model, m.name);
        const got = await eng.run(feeds);
        for (const o of ort.outputs) {
          const a = (await want[o.name]!.getData()) as Float32Array, b = await got[o.name]!.getData();
          const width = a.length / 2, scale = o.name === "embedding" ? 100 : 1;
          assertEquals(fp16SelfCheck(softmaxCpu(a, 2, width, scale), softmaxCpu(b, 2, width, scale), 2, width), null);
          assertClose({ name: o.name, ort: a, wgsl: Float32Array.from(b) }, 2e-2, `${m.name} fp16`);
        }
        for (const t of Object.values(got)) t.dispose();
        await eng.release();
      });
      await ort.release();
    },
  });
}
