import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { buildClipFromWeights, buildResnetFromWeights } from "../lib/models/canonical.ts";
import { ModelSession } from "../lib/ort/session.ts";
import { ResnetModel, resolveResnet } from "../lib/models/resnet.ts";
import { ClipModel } from "../lib/models/clip.ts";
import { decodeImageFile, type RgbaImage } from "../lib/image/decode.ts";
import { releaseRows, rowsToHost, zeroShotDetail } from "../lib/scoring.ts";
import { parseSafetensors } from "../lib/weights/safetensors.ts";
import { ClipcmpError } from "../lib/errors.ts";
import type { GpuContext } from "../lib/gpu/context.ts";
import { FIX, HAS_GPU, ROOT, sharedGpu, tempDir } from "./_helpers.ts";

const W = `${FIX}/weights`;
const R = JSON.parse(await Deno.readTextFile(`${W}/refs.json`));
const REL_TOL = 1e-4;
const PROB_TOL = 1e-3;

/** max |a − b| / max |b|. */
function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length);
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    s = Math.max(s, Math.abs(b[i]!));
  }
  return d / s;
}

/** The generator's synthetic batch: pixel i of image b is ((i·2654435761 + 97b) mod 1000) / 500 − 1. */
function synthetic(batch: number): Float32Array {
  const n = 3 * 224 * 224;
  const x = new Float32Array(batch * n);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < n; i++) x[b * n + i] = ((i * 2654435761 + b * 97) % 1000) / 500 - 1;
  }
  return x;
}

const cache = await tempDir();
const resnet = await buildResnetFromWeights(`${W}/resnet-tv-tiny/model.safetensors`, cache);
const clip = await buildClipFromWeights(`${W}/clip-rn-tiny`, cache);
const photos: RgbaImage[] = await Promise.all(R.photos.map((p: string) => decodeImageFile(`${ROOT}/${p}`)));

async function run(
  path: string,
  ep: "wasm" | "webgpu",
  feeds: Record<string, { type: string; data: Float32Array | Int32Array; dims: number[] }>,
) {
  const gpu = ep === "webgpu" ? await sharedGpu() : null;
  const s = await ModelSession.load(path, { ep, gpu });
  try {
    const out = await s.run(feeds);
    const t = Object.values(out)[0]!;
    const data = Float32Array.from((await t.getData()) as Float32Array);
    for (const v of Object.values(out)) v.dispose();
    return data;
  } finally {
    await s.release();
  }
}

for (const [ep, ignore] of [["wasm", false], ["webgpu", !HAS_GPU]] as const) {
  Deno.test({
    name: `built torchvision ResNet matches PyTorch's logits within ${REL_TOL} relative on ${ep}`,
    ignore,
    async fn() {
      const got = await run(resnet.path, ep, {
        pixel_values: { type: "float32", data: synthetic(3), dims: [3, 3, 224, 224] },
      });
      const r = rel(got, R.resnet.logits.flat());
      assert(r <= REL_TOL, `relative error ${r}`);
    },
  });
  Deno.test({
    name: `built CLIP image tower matches PyTorch's embeddings within ${REL_TOL} relative on ${ep}`,
    ignore,
    async fn() {
      const got = await run(`${clip.path}/visual/model.onnx`, ep, {
        image: { type: "float32", data: synthetic(3), dims: [3, 3, 224, 224] },
      });
      const r = rel(got, R.clip.image_embeddings.flat());
      assert(r <= REL_TOL, `relative error ${r}`);
    },
  });
  Deno.test({
    name:
      `built CLIP text tower is QuickGELU: PyTorch's QuickGELU embeddings within ${REL_TOL}, exact GELU's far off, on ${ep}`,
    ignore,
    async fn() {
      const ids = Int32Array.from(R.clip.text_ids.flat());
      const got = await run(`${clip.path}/textual/model.onnx`, ep, {
        text: { type: "int32", data: ids, dims: [4, 77] },
      });
      const quick = rel(got, R.clip.text_embeddings.flat());
      const exact = rel(got, R.clip.text_embeddings_exact_gelu.flat());
      assert(quick <= REL_TOL, `relative error ${quick}`);
      assert(exact > 10 * REL_TOL, `exact GELU is only ${exact} away: the fixture cannot tell the activations apart`);
    },
  });
  Deno.test({
    name:
      `built models through the tool's pipeline: ResNet photo logits and CLIP zero-shot probabilities match PyTorch on ${ep}`,
    ignore,
    async fn() {
      const gpu: GpuContext | null = ep === "webgpu" ? await sharedGpu() : null;
      const rm = await ResnetModel.load(await resolveResnet(resnet.path, "imagenet"), { ep, gpu });
      try {
        const rows = await rm.logits(photos);
        const host = await rowsToHost(rows);
        releaseRows(rows);
        const r = rel(host, R.resnet.photo_logits.flat());
        assert(r <= REL_TOL, `ResNet photo logits relative error ${r}`);
      } finally {
        await rm.release();
      }
      const cm = await ClipModel.load(clip.path, { ep, gpu });
      try {
        const img = await cm.encodeImages(photos);
        const txt = await cm.encodeTexts(R.labels.map((l: string) => `a photo of a ${l}.`));
        const { probs } = await zeroShotDetail(img, txt.rows, 100);
        releaseRows(img);
        releaseRows(txt.rows);
        const want: number[] = R.zeroshot_probs.flat();
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(probs[i]! - want[i]!));
        assert(worst <= PROB_TOL, `zero-shot probabilities differ by ${worst}`);
      } finally {
        await cm.release();
      }
    },
  });
}

Deno.test("a second build of the same weights reuses the cache, and a corrupted built file is rebuilt", async () => {
  const again = await buildResnetFromWeights(`${W}/resnet-tv-tiny/model.safetensors`, cache);
  assert(again.reused);
  assertEquals(again.path, resnet.path);
  const bytes = await Deno.readFile(resnet.path);
  bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
  await Deno.writeFile(resnet.path, bytes);
  const lines: string[] = [];
  const rebuilt = await buildResnetFromWeights(`${W}/resnet-tv-tiny/model.safetensors`, cache, (l) => lines.push(l));
  assert(!rebuilt.reused);
  assert(lines.some((l) => l.includes("fail their sha256 check")), lines.join("\n"));
});

// ---- malformed weights: one line naming the file and the tensor, and nothing cached ----

function stFile(
  entries: Record<string, { dtype: string; shape: number[]; data: Uint8Array }>,
  opts: { pad?: number; extra?: number } = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  const blobs: Uint8Array[] = [];
  for (const [name, e] of Object.entries(entries)) {
    header[name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.data.length] };
    blobs.push(e.data);
    off += e.data.length;
  }
  const h = new TextEncoder().encode(JSON.stringify(header) + " ".repeat(opts.pad ?? 0));
  const out = new Uint8Array(8 + h.length + off + (opts.extra ?? 0));
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  let at = 8 + h.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

Deno.test("safetensors: F32, F16, BF16, I64, 0-rank and misaligned tensors read exactly", async () => {
  const { toFloat32 } = await import("../lib/weights/safetensors.ts");
  const f16 = new Uint8Array(new Float16Array([1.5, -2]).buffer);
  const bf16 = new Uint8Array(new Uint16Array([0x3fc0, 0xc000]).buffer); // 1.5, -2
  const file = stFile({
    a: { dtype: "F16", shape: [2], data: f16 },
    b: { dtype: "BF16", shape: [2], data: bf16 },
    c: { dtype: "F32", shape: [], data: new Uint8Array(new Float32Array([3.25]).buffer) },
    d: { dtype: "I64", shape: [1], data: new Uint8Array(new BigInt64Array([7n]).buffer) },
  }, { pad: 1 }); // a header of odd length: every tensor after it is misaligned
  const st = parseSafetensors(file, "x.safetensors");
  assertEquals([...toFloat32(st.tensors.get("a")!)], [1.5, -2]);
  assertEquals([...toFloat32(st.tensors.get("b")!)], [1.5, -2]);
  assertEquals([...toFloat32(st.tensors.get("c")!)], [3.25]);
  assertEquals(st.tensors.get("c")!.shape, []);
  assertEquals(new BigInt64Array(st.tensors.get("d")!.bytes.slice().buffer)[0], 7n);
});

Deno.test("safetensors: malformed files are refused with one line naming the file and what is wrong", () => {
  const four = new Uint8Array(4);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /too short/],
    [
      "header past the end",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 1000n, true);
        return b;
      })(),
      /runs past the end/,
    ],
    [
      "huge header",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 200_000_000n, true);
        return b;
      })(),
      /exceeds/,
    ],
    [
      "truncated data",
      stFile({ w: { dtype: "F32", shape: [2], data: new Uint8Array(8) } }).slice(0, -3),
      /tensor "w" runs past the end of the data \(8 > 5 bytes\); the file is truncated/,
    ],
    ["trailing bytes", stFile({ w: { dtype: "F32", shape: [1], data: four } }, { extra: 4 }), /after the last tensor/],
    ["size mismatch", stFile({ w: { dtype: "F32", shape: [2], data: four } }), /"w".*spans 4 bytes, expected 8/],
    ["bad dtype", stFile({ w: { dtype: "U8", shape: [4], data: four } }), /"w" has dtype "U8"/],
  ];
  for (const [what, bytes, re] of cases) {
    try {
      parseSafetensors(bytes, "bad.safetensors");
      assert(false, `${what}: accepted`);
    } catch (err) {
      assert(err instanceof ClipcmpError, `${what}: ${err}`);
      assert(/^"bad\.safetensors" is not a valid safetensors file: /.test(err.message), err.message);
      assert(re.test(err.message), `${what}: ${err.message}`);
      assert(!err.message.includes("\n"));
    }
  }
  // Holes and overlaps.
  const header = (h: unknown) => {
    const j = new TextEncoder().encode(JSON.stringify(h));
    const b = new Uint8Array(8 + j.length + 8);
    new DataView(b.buffer).setBigUint64(0, BigInt(j.length), true);
    b.set(j, 8);
    return b;
  };
  const overlap = header({
    a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
  });
  const hole = header({ a: { dtype: "F32", shape: [1], data_offsets: [4, 8] } });
  assert(/overlaps/.test(catchMsg(() => parseSafetensors(overlap, "o.safetensors"))));
  assert(/a hole of 4 bytes before tensor "a"/.test(catchMsg(() => parseSafetensors(hole, "h.safetensors"))));
});

function catchMsg(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return "(no error)";
}

/** Rewrites a fixture's safetensors with one tensor changed (renamed, reshaped, retyped or removed). */
async function variant(
  src: string,
  edit: (h: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>) => void,
  truncate = 0,
) {
  const file = await Deno.readFile(src);
  const n = Number(new DataView(file.buffer).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  edit(h);
  const j = new TextEncoder().encode(JSON.stringify(h));
  const out = new Uint8Array(8 + j.length + file.length - 8 - n - truncate);
  new DataView(out.buffer).setBigUint64(0, BigInt(j.length), true);
  out.set(j, 8);
  out.set(file.subarray(8 + n, file.length - truncate), 8 + j.length);
  const dir = await tempDir();
  const path = `${dir}/model.safetensors`;
  await Deno.writeFile(path, out);
  return { dir, path };
}

Deno.test("a wrong or missing tensor name, a wrong shape or dtype, or a truncated file: one line naming file and tensor, nothing cached", async () => {
  const src = `${W}/resnet-tv-tiny/model.safetensors`;
  const cases: [string, Parameters<typeof variant>[1], RegExp, number?][] = [
    ["renamed", (h) => {
      h["layer1.0.conv9.weight"] = h["layer1.0.conv1.weight"]!;
      delete h["layer1.0.conv1.weight"];
    }, /tensor "layer1\.0\.conv1\.weight" is missing|unexpected tensor "layer1\.0\.conv9\.weight"/],
    ["missing", (h) => {
      // drop fc.bias and give its bytes to a renamed tensor so the file stays contiguous
      h["fc.bias_old"] = h["fc.bias"]!;
      delete h["fc.bias"];
    }, /tensor "fc\.bias" is missing/],
    ["wrong shape", (h) => {
      h["fc.bias"]!.shape = [10, 100];
    }, /tensor "fc\.bias" has shape \[10,100\], expected \[1000\]/],
    ["wrong dtype", (h) => {
      const t = h["bn1.running_var"]!;
      t.dtype = "I64";
      t.shape = [t.shape[0]! / 2];
    }, /tensor "bn1\.running_var" is I64/],
    ["truncated", () => {}, /tensor "[^"]+" runs past the end of the data .*truncated/, 100],
  ];
  for (const [what, edit, re, truncate] of cases) {
    const { path } = await variant(src, edit, truncate);
    const c = await tempDir();
    await rejects(buildResnetFromWeights(path, c), (err: Error) => {
      assert(err instanceof ClipcmpError, `${what}: ${err.stack}`);
      assert(err.message.includes(path), `${what}: ${err.message}`);
      assert(re.test(err.message), `${what}: ${err.message}`);
      assert(!err.message.includes("\n"), what);
      return true;
    });
    const left = [];
    try {
      for await (const e of Deno.readDir(`${c}/built`)) left.push(e.name);
    } catch { /* no built/ at all */ }
    assertEquals(left, [], `${what}: something was cached`);
  }
});

Deno.test("the same weights with another config (exact GELU) are built as another graph, not taken from the cache", async () => {
  const dir = await tempDir();
  for (const f of ["open_clip_model.safetensors", "tokenizer.json"]) {
    await Deno.copyFile(`${W}/clip-rn-tiny/${f}`, `${dir}/${f}`);
  }
  const cfg = JSON.parse(await Deno.readTextFile(`${W}/clip-rn-tiny/open_clip_config.json`));
  cfg.model_cfg.quick_gelu = false;
  await Deno.writeTextFile(`${dir}/open_clip_config.json`, JSON.stringify(cfg));
  const gelu = await buildClipFromWeights(dir, cache); // `clip` (QuickGELU, same weights) is already in this cache
  assert(!gelu.reused && gelu.path !== clip.path);
  assertEquals(gelu.arch.activation, "gelu");
  assertEquals((await buildClipFromWeights(`${W}/clip-rn-tiny`, cache)).path, clip.path);
  await Deno.remove(dir, { recursive: true });
});
