import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ClipModel } from "../lib/models/clip.ts";
import { buildHead } from "../lib/zeroshot.ts";
import { releaseRows, zeroShotTopK } from "../lib/scoring.ts";
import { trackMemory } from "../lib/gpu/memory.ts";
import type { RgbaImage } from "../lib/image/decode.ts";
import { FIX, HAS_GPU, rng, sharedGpu } from "./_helpers.ts";

const IMAGES = 2000;
const CHUNK = 100;

Deno.test({
  name: `soak: ${IMAGES} generated images through CLIP on the GPU keep live GPU memory flat and leak no session`,
  ignore: !HAS_GPU,
  fn: async () => {
    const gpu = (await sharedGpu())!;
    const mem = trackMemory(gpu.device);
    const tracked = { ...gpu, device: mem.device };
    const r = rng(9);
    const image = (i: number): RgbaImage => {
      const w = 48 + (i % 7) * 9, h = 40 + (i % 5) * 11;
      return { width: w, height: h, data: Uint8Array.from({ length: w * h * 4 }, () => Math.floor(r() * 256)) };
    };
    const clip = await ClipModel.load(`${FIX}/clip-tiny-dyn`, { ep: "webgpu", gpu: tracked });
    const head = await buildHead(clip, ["cat", "dog", "leopard", "tiger", "bald eagle"], ["a photo of a {}."]);
    const levels: number[] = [];
    const buffers: number[] = [];
    let classified = 0;
    for (let c = 0; c < IMAGES; c += CHUNK) {
      const emb = await clip.encodeImages(Array.from({ length: CHUNK }, (_, i) => image(c + i)));
      const top = await zeroShotTopK(emb, head.rows, 100, 1);
      releaseRows(emb);
      classified += top.rows;
      await gpu.device.queue.onSubmittedWorkDone();
      levels.push(mem.live);
      buffers.push(mem.buffers);
    }
    assertEquals(classified, IMAGES);
    // After the first chunk has warmed onnxruntime's buffer pool, the live bytes and buffer count stay put.
    const steady = levels.slice(1);
    assert(steady.every((v) => v === steady[0]), `live GPU bytes per chunk: ${levels.join(", ")}`);
    assert(buffers.slice(1).every((v) => v === buffers[1]), `live buffers per chunk: ${buffers.join(", ")}`);
    console.log(
      `soak: ${IMAGES} images, live GPU bytes after each chunk ${steady[0]} (peak ${mem.peak}), ${buffers[1]} buffers`,
    );
    releaseRows(head.rows);
    await clip.release();
    assertEquals([mem.live, mem.buffers], [0, 0]);
  },
});
