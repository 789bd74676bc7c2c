import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { ResnetModel, resolveResnet } from "../lib/models/resnet.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { ClipTokenizer } from "../lib/text/tokenizer.ts";
import { decodeImageFile, type RgbaImage } from "../lib/image/decode.ts";
import { releaseRows, rowsToHost, zeroShotDetail } from "../lib/scoring.ts";
import type { ResolvedDevice } from "../lib/device.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { FIX, HAS_GPU, maxAbsDiff, refs, ROOT, sharedGpu } from "./_helpers.ts";

// Tolerances. Fixture logits are built with top-5 gaps >= refs.min_gap (0.1), ten times LOGIT_TOL.
const LOGIT_TOL = 0.01;
const EMBED_TOL = 1e-4;

const images: RgbaImage[] = await Promise.all(refs.images.map((p) => decodeImageFile(`${ROOT}/${p}`)));
const flat = (rows: number[][]) => Float32Array.from(rows.flat());

async function device(ep: "wasm" | "webgpu"): Promise<ResolvedDevice> {
  if (ep === "wasm") return { ep, gpu: null, reason: "test", adapter: null, engine: "ort" };
  return { ep, gpu: await sharedGpu(), reason: "test", adapter: null, engine: "ort" };
}

async function resnetLogits(ep: "wasm" | "webgpu", dir: string): Promise<Float32Array> {
  const d = await device(ep);
  const model = await ResnetModel.load(await resolveResnet(`${FIX}/${dir}`), d);
  try {
    const rows = await model.logits(images);
    const host = await rowsToHost(rows);
    releaseRows(rows);
    return host;
  } finally {
    await model.release();
  }
}

async function clipOutputs(ep: "wasm" | "webgpu", dir: string) {
  const d = await device(ep);
  const clip = await ClipModel.load(`${FIX}/${dir}`, d);
  try {
    const img = await clip.encodeImages(images);
    const txt = await clip.encodeTexts(refs.clip.prompts);
    const { cosines } = await zeroShotDetail(img, txt.rows, 100);
    const out = {
      img: await rowsToHost(img),
      txt: await rowsToHost(txt.rows),
      logits: cosines.map((c) => 100 * c),
    };
    releaseRows(img);
    releaseRows(txt.rows);
    return out;
  } finally {
    await clip.release();
  }
}

const EPS = [["wasm", false], ["webgpu", !HAS_GPU]] as const;
for (const [ep, ignore] of EPS) {
  for (const dir of ["resnet-tiny", "resnet-tiny-dyn"]) {
    Deno.test({
      name: `ResNet fixture ${dir} on ${ep} matches the PyTorch reference logits within ${LOGIT_TOL}`,
      ignore,
      fn: async () => {
        const got = await resnetLogits(ep, dir);
        const d = maxAbsDiff(got, flat(refs.resnet.logits));
        assert(d <= LOGIT_TOL, `max |dlogit| ${d}`);
      },
    });
  }
  for (const dir of ["clip-tiny", "clip-tiny-dyn"]) {
    Deno.test({
      name: `CLIP fixture ${dir} on ${ep} matches the PyTorch reference embeddings and logits`,
      ignore,
      fn: async () => {
        const got = await clipOutputs(ep, dir);
        const di = maxAbsDiff(got.img, flat(refs.clip.image_embeddings));
        const dt = maxAbsDiff(got.txt, flat(refs.clip.text_embeddings));
        const dl = maxAbsDiff(got.logits, flat(refs.clip.logits));
        assert(di <= EMBED_TOL, `image embeddings differ by ${di}`);
        assert(dt <= EMBED_TOL, `text embeddings differ by ${dt}`);
        assert(dl <= LOGIT_TOL, `100*cos differs by ${dl}`);
      },
    });
  }
}

Deno.test({
  name: "webgpu EP and wasm EP agree on every fixture within tolerance",
  ignore: !HAS_GPU,
  fn: async () => {
    for (const dir of ["resnet-tiny", "resnet-tiny-dyn"]) {
      const d = maxAbsDiff(await resnetLogits("webgpu", dir), await resnetLogits("wasm", dir));
      assert(d <= LOGIT_TOL, `${dir}: ${d}`);
    }
    for (const dir of ["clip-tiny", "clip-tiny-dyn"]) {
      const [g, w] = [await clipOutputs("webgpu", dir), await clipOutputs("wasm", dir)];
      assert(maxAbsDiff(g.img, w.img) <= EMBED_TOL, `${dir} image`);
      assert(maxAbsDiff(g.txt, w.txt) <= EMBED_TOL, `${dir} text`);
      assert(maxAbsDiff(g.logits, w.logits) <= LOGIT_TOL, `${dir} logits`);
    }
  },
});

for (const ep of ["wasm", "webgpu"] as const) {
  Deno.test({
    name: `batch-1 image graphs on ${ep} are rewritten to a dynamic batch, verified, and give the original's outputs`,
    ignore: ep === "webgpu" && !HAS_GPU,
    async fn() {
      const d = await device(ep);
      const notes: string[] = [];
      const fixed = await ResnetModel.load(await resolveResnet(`${FIX}/resnet-tiny`), { ...d, batchRewrite: false });
      const dyn = await ResnetModel.load(await resolveResnet(`${FIX}/resnet-tiny`), {
        ...d,
        log: (l) => notes.push(l),
      });
      const clip = await ClipModel.load(`${FIX}/clip-tiny`, { ...d, log: (l) => notes.push(l) });
      try {
        assertEquals(fixed.graph.batch, 1);
        assertEquals(dyn.graph.batch, null);
        assertEquals(clip.visual.batch, null);
        assert(notes.some((n) => /^ResNet: batch rewritten from 1 to dynamic/.test(n)), notes.join("\n"));
        assert(notes.some((n) => /^image tower: batch rewritten from 1 to dynamic/.test(n)), notes.join("\n"));
        // Ten images in one run of the rewritten graph equal ten runs of the original, and PyTorch's logits.
        const a = await fixed.logits(images);
        const b = await dyn.logits(images, { maxBatch: 16 });
        const [ha, hb] = [await rowsToHost(a), await rowsToHost(b)];
        releaseRows(a);
        releaseRows(b);
        assert(maxAbsDiff(ha, hb) <= 1e-4, `batched vs single: ${maxAbsDiff(ha, hb)}`);
        assert(maxAbsDiff(hb, flat(refs.resnet.logits)) <= LOGIT_TOL);
      } finally {
        await fixed.release();
        await dyn.release();
        await clip.release();
      }
    },
  });
}

Deno.test("fixture graphs read their names, dtypes and shapes from the session", async () => {
  const d = await device("wasm");
  const r = await ResnetModel.load(await resolveResnet(`${FIX}/resnet-tiny`), { ...d, batchRewrite: false });
  const c = await ClipModel.load(`${FIX}/clip-tiny-dyn`, d);
  try {
    assertEquals(r.graph.input, { name: "image_tensor", type: "float32", shape: [1, 3, 224, 224] });
    assertEquals(r.graph.output.name, "class_logits");
    assertEquals(r.graph.batch, 1);
    assertEquals(r.source.recipe.name, "torchvision-unit"); // from preprocessor_config.json do_normalize: false
    assertEquals(c.visual.input.name, "image");
    assertEquals(c.visual.batch, null);
    assertEquals(c.textInput.type, "int32");
    assertEquals(c.textBatch, null);
    assertEquals(c.dim, 1024);
  } finally {
    await r.release();
    await c.release();
  }
});

Deno.test("a bare ResNet .onnx gets ImageNet normalisation unless --resnet-input unit says otherwise", async () => {
  assertEquals((await resolveResnet(`${FIX}/resnet-tiny/model.onnx`)).recipe.name, "torchvision");
  assertEquals((await resolveResnet(`${FIX}/resnet-tiny/model.onnx`, "unit")).recipe.name, "torchvision-unit");
  assertEquals((await resolveResnet(`${FIX}/resnet-tiny`, "imagenet")).recipe.name, "torchvision");
});

Deno.test("loading a CLIP model as a ResNet fails with a one-line message naming the file", async () => {
  const d = await device("wasm");
  await rejects(
    ResnetModel.load({
      model: `${FIX}/clip-tiny/visual/model.onnx`,
      recipe: (await resolveResnet(`${FIX}/resnet-tiny`)).recipe,
    }, d),
    (err: Error) =>
      err instanceof ClipcmpError && /clip-tiny\/visual\/model.onnx.*1024 classes, expected 1000/.test(err.message),
  );
  await rejects(
    ClipModel.load(`${FIX}/nope`, d),
    (err: Error) => err instanceof ClipcmpError && /--clip ".*nope": no such directory/.test(err.message),
  );
});

Deno.test("tokenizer ids match the independent Python BPE on every reference string", async () => {
  const tok = await ClipTokenizer.load(`${FIX}/clip-tiny/textual/tokenizer.json`);
  assert(refs.tokenizer.length >= 30);
  for (const { text, ids } of refs.tokenizer) {
    const got = tok.encode(text);
    assertEquals(got.ids, ids, JSON.stringify(text));
    assertEquals(got.truncated, ids[76] === 49407 && ids.filter((x) => x !== 0).length === 77 && text.length > 100);
  }
  assertEquals(tok.encode("a photo of a dog.").ids.slice(0, 9), [49406, 320, 1125, 539, 320, 1929, 269, 49407, 0]);
});
