/**
 * Dev-only: builds the canonical graphs (dynamic batch) from weight folders in the published layouts, and prints
 * where they went, for the device benchmarks:
 *
 *     deno run --allow-read --allow-write=DIR --allow-env tools/build_canonical.ts CLIP_WEIGHTS_DIR RESNET.safetensors DIR
 *
 * Prints two lines: the CLIP folder (visual/, textual/) and the ResNet model file.
 */
import { buildClipFromWeights, buildResnetFromWeights } from "../lib/models/canonical.ts";

const [clipDir, resnet, cache] = Deno.args;
if (!clipDir || !resnet || !cache) {
  console.error("usage: tools/build_canonical.ts CLIP_WEIGHTS_DIR RESNET.safetensors CACHE_DIR");
  Deno.exit(2);
}
console.log((await buildClipFromWeights(clipDir, cache)).path);
console.log((await buildResnetFromWeights(resnet, cache)).path);
