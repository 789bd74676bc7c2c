import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { DecodePool } from "../lib/image/pool.ts";
import { decodeImageFile } from "../lib/image/decode.ts";
import { type Classified, classifyFiles, type PipelineModels } from "../lib/pipeline.ts";
import { ResnetModel, resolveResnet } from "../lib/models/resnet.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { releaseRows } from "../lib/scoring.ts";
import type { ResolvedDevice } from "../lib/device.ts";
import { SUBSETS } from "../lib/eval.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { FIX, HAS_GPU, refs, ROOT, sharedGpu } from "./_helpers.ts";

const DECODE = `${FIX}/decode`;
const decodeFiles = [...Deno.readDirSync(DECODE)].map((e) => e.name).filter((n) => /\.(jpg|png)$/.test(n)).sort();
const photos = refs.images.map((p) => `${ROOT}/${p}`);

Deno.test("DecodePool gives the same pixels as decodeImageFile, for every decoder path, on 3 workers", async () => {
  using pool = new DecodePool(3);
  const paths = [...decodeFiles.map((f) => `${DECODE}/${f}`), ...photos];
  const viaPool = await Promise.all(paths.map((p) => pool.decode(p)));
  for (const [i, p] of paths.entries()) {
    const direct = await decodeImageFile(p);
    assertEquals([viaPool[i]!.width, viaPool[i]!.height], [direct.width, direct.height], p);
    assert(viaPool[i]!.data.length === direct.data.length && viaPool[i]!.data.every((v, j) => v === direct.data[j]), p);
  }
});

Deno.test("DecodePool rejects a missing or corrupt file with decodeImageFile's one-line message, and goes on", async () => {
  using pool = new DecodePool(2);
  const missing = `${ROOT}/tests/.tmp/no-such-image.jpg`;
  const corrupt = `${ROOT}/tests/.tmp/pool-corrupt.jpg`;
  Deno.mkdirSync(`${ROOT}/tests/.tmp`, { recursive: true });
  Deno.writeFileSync(corrupt, Deno.readFileSync(photos[0]!).slice(0, 600));
  for (const p of [missing, corrupt]) {
    const direct = await decodeImageFile(p).then(() => "decoded", (e: Error) => e.message);
    await rejects(
      pool.decode(p),
      (e: Error) => e instanceof ClipcmpError && e.message === direct && !e.message.includes("\n"),
    );
  }
  assertEquals((await pool.decode(photos[1]!)).width, (await decodeImageFile(photos[1]!)).width);
  Deno.removeSync(corrupt);
});

Deno.test("DecodePool still answers after onnxruntime-web has started its wasm threads", async () => {
  // ORT's thread start-up swaps globalThis.Worker for a Node-style worker whose onmessage never fires.
  const model = await ResnetModel.load(await resolveResnet(`${FIX}/resnet-tiny-dyn`), { ep: "wasm", gpu: null });
  try {
    using pool = new DecodePool(1);
    const img = await Promise.race([
      pool.decode(photos[0]!),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer in 20 s")), 20_000)),
    ]);
    assertEquals(img.width, 335);
  } finally {
    await model.release();
  }
});

/** Top-k of each row, ties to the lower index, like the kernels. */
function topOf(row: readonly number[], k: number): number[] {
  return row.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k).map((x) => x[1]);
}

async function run(
  ep: "wasm" | "webgpu",
  build: (d: ResolvedDevice) => Promise<PipelineModels & { done(): Promise<void> }>,
  opts: { batch: number; k: number; sequential?: boolean; extra?: string[] },
) {
  const d: ResolvedDevice = ep === "wasm"
    ? { ep, gpu: null, reason: "test", adapter: null, engine: "ort" }
    : { ep, gpu: await sharedGpu(), reason: "test", adapter: null, engine: "ort" };
  const models = await build(d);
  const items = [...photos, ...(opts.extra ?? [])].map((path, i) => ({ path, index: refs.labels[i % 10]!.index }));
  const got: Classified[] = [];
  const skipped: string[] = [];
  using pool = new DecodePool(2);
  try {
    const times = await classifyFiles(items, models, {
      batch: opts.batch,
      k: opts.k,
      pool,
      sequential: opts.sequential,
      onBatch: (rs) => void got.push(...rs),
      onSkip: (p) => skipped.push(p),
    });
    assertEquals(times.images, got.length);
    return { got, skipped };
  } finally {
    await models.done();
  }
}

const resnetModels = (columns: number[] | null) => async (d: ResolvedDevice) => {
  const resnet = await ResnetModel.load(await resolveResnet(`${FIX}/resnet-tiny`), d);
  return { resnet, columns, done: () => resnet.release() };
};

for (const ep of ["wasm", "webgpu"] as const) {
  Deno.test({
    name: `classifyFiles() on ${ep}: ResNet top-5 of every file equals the PyTorch reference, pipelined or not`,
    ignore: ep === "webgpu" && !HAS_GPU,
    async fn() {
      const corrupt = `${ROOT}/tests/.tmp/pipeline-corrupt-${ep}.png`;
      Deno.writeFileSync(corrupt, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
      try {
        const piped = await run(ep, resnetModels(null), { batch: 3, k: 5, extra: [corrupt] });
        assertEquals(piped.skipped, [corrupt]);
        assertEquals(piped.got.map((g) => g.path), photos);
        piped.got.forEach((g, i) => assertEquals(g.top.resnet, topOf(refs.resnet.logits[i]!, 5), g.path));
        const seq = await run(ep, resnetModels(null), { batch: 4, k: 5, sequential: true });
        assertEquals(seq.got, piped.got);
      } finally {
        Deno.removeSync(corrupt);
      }
    },
  });
}

Deno.test({
  name: "classifyFiles() on webgpu scores 200-way: top-5 are ImageNet-R classes, ranked as the reference logits",
  ignore: !HAS_GPU,
  async fn() {
    const cols = SUBSETS["imagenet-r"];
    const { got } = await run("webgpu", resnetModels(cols), { batch: 4, k: 5 });
    got.forEach((g, i) => {
      const masked = cols.map((c) => refs.resnet.logits[i]![c]!);
      assertEquals(g.top.resnet, topOf(masked, 5).map((j) => cols[j]!), g.path);
    });
  },
});

Deno.test({
  name: "classifyFiles() on webgpu: CLIP zero-shot top-3 over the fixture labels equals PyTorch's 100·cos ranking",
  ignore: !HAS_GPU,
  async fn() {
    const columns = refs.labels.map((l) => l.index);
    const { got } = await run("webgpu", async (d) => {
      const model = await ClipModel.load(`${FIX}/clip-tiny`, d);
      const head = (await model.encodeTexts(refs.clip.prompts)).rows;
      return {
        clip: { model, head },
        columns,
        done: async () => {
          releaseRows(head);
          await model.release();
        },
      };
    }, { batch: 4, k: 3 });
    got.forEach((g, i) => assertEquals(g.top.clip, topOf(refs.clip.logits[i]!, 3).map((j) => columns[j]!), g.path));
  },
});
