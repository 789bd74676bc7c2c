import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { decodeNpy } from "../lib/npy.ts";
import { decodeImageFile } from "../lib/image/decode.ts";
import { listImages } from "../lib/image/list.ts";
import { preprocessCpu } from "../lib/preprocess/cpu.ts";
import { CLIP_RECIPE, TORCHVISION_RECIPE } from "../lib/preprocess/recipe.ts";
import { FIX, HAS_F16, HAS_GPU, maxAbsDiff, ROOT, runTaskCli, tempDir } from "./_helpers.ts";

const PARITY = `${FIX}/parity`;
const parity: { inputs: string[]; normalize_by_level: Record<string, number[][]> } = JSON.parse(
  await Deno.readTextFile(`${PARITY}/parity.json`),
);
const inputs = parity.inputs.map((n) => `models/fixtures/parity/${n}`);

async function runPreprocess(
  args: string[],
): Promise<{ code: number; stderr: string; npy?: ReturnType<typeof decodeNpy> }> {
  const out = `out/test-${crypto.randomUUID()}.npy`;
  const run = await runTaskCli("preprocess", [...args, "--out", out]);
  try {
    return {
      code: run.code,
      stderr: run.stderr,
      npy: run.code === 0 ? decodeNpy(await Deno.readFile(`${ROOT}/${out}`)) : undefined,
    };
  } finally {
    await Deno.remove(`${ROOT}/${out}`).catch(() => {});
  }
}

/** PIL + torchvision's normalised tensor for the parity inputs, rebuilt from the committed crops. */
async function reference(tag: "clip" | "resnet"): Promise<Float32Array> {
  const norm = parity.normalize_by_level[tag === "clip" ? "clip" : "torchvision"]!;
  const plane = 224 * 224;
  const out = new Float32Array(parity.inputs.length * 3 * plane);
  for (let i = 0; i < parity.inputs.length; i++) {
    const crop = await decodeImageFile(`${PARITY}/${parity.inputs[i]}.${tag}.png`);
    for (let c = 0; c < 3; c++) {
      for (let p = 0; p < plane; p++) out[(i * 3 + c) * plane + p] = norm[c]![crop.data[p * 4 + c]!]!;
    }
  }
  return out;
}

for (
  const [tag, device, ignore] of [["clip", "wasm", false], ["resnet", "wasm", false], ["clip", "webgpu", !HAS_GPU], [
    "resnet",
    "webgpu",
    !HAS_GPU,
  ]] as const
) {
  Deno.test({
    name: `preprocess --for ${tag} --device ${device} writes [N,3,224,224] matching PIL + torchvision within 1/255`,
    ignore,
    fn: async () => {
      const run = await runPreprocess([...inputs, "--for", tag, "--device", device]);
      assertEquals(run.code, 0, run.stderr);
      assertEquals(run.npy!.shape, [5, 3, 224, 224]);
      assertEquals(run.npy!.dtype, "<f4");
      const std = (tag === "clip" ? CLIP_RECIPE : TORCHVISION_RECIPE).std;
      const d = maxAbsDiff(run.npy!.data, await reference(tag));
      assert(d * Math.max(...std) <= 1 / 255, `max diff ${d}`);
      assert(run.stderr.includes(`wrote out/test-`));
    },
  });
}

Deno.test({
  name: "preprocess --dtype fp16 on webgpu is within f16 rounding of the f32 CPU result",
  ignore: !HAS_F16,
  fn: async () => {
    const run = await runPreprocess([...inputs.slice(0, 2), "--for", "clip", "--dtype", "fp16", "--device", "webgpu"]);
    assertEquals(run.code, 0, run.stderr);
    assertEquals(run.npy!.dtype, "<f2");
    const imgs = await Promise.all(inputs.slice(0, 2).map((p) => decodeImageFile(`${ROOT}/${p}`)));
    const want = new Float32Array(2 * 3 * 224 * 224);
    imgs.forEach((img, i) => preprocessCpu(img, CLIP_RECIPE, want, i));
    run.npy!.data.forEach((x, i) => assert(Math.abs(x - want[i]!) <= Math.abs(want[i]!) * 2 ** -11 + 1e-7, `#${i}`));
  },
});

Deno.test("preprocess keeps input order, lists directories sorted, and fp16 on the CPU path rounds the f32 result", async () => {
  const run = await runPreprocess([
    "models/fixtures/parity/tiny.png",
    "models/fixtures/parity",
    "--for",
    "resnet",
    "--device",
    "wasm",
    "--dtype",
    "fp16",
  ]);
  assertEquals(run.code, 0, run.stderr);
  const listed = await listImages(["models/fixtures/parity"]);
  assertEquals(run.npy!.shape, [1 + listed.length, 3, 224, 224]); // tiny.png, then the directory, sorted
  const tiny = await decodeImageFile(`${PARITY}/tiny.png`);
  const want = new Float32Array(3 * 224 * 224);
  preprocessCpu(tiny, TORCHVISION_RECIPE, want, 0);
  const first = run.npy!.data.subarray(0, want.length);
  assertEquals(Array.from(first), Array.from(Float32Array.from(new Float16Array(want))));
});

Deno.test("preprocess --alpha white composites transparent pixels onto white before resizing", async () => {
  const [drop, white] = [
    await runPreprocess(["models/fixtures/decode/rgba.png", "--for", "clip", "--device", "wasm"]),
    await runPreprocess(["models/fixtures/decode/rgba.png", "--for", "clip", "--device", "wasm", "--alpha", "white"]),
  ];
  assertEquals(drop.code, 0, drop.stderr);
  assertEquals(white.code, 0, white.stderr);
  // Compositing itself is checked against PIL in decode_test.ts; here the flag must reach the pixels.
  for (const [run, alpha] of [[drop, "drop"], [white, "white"]] as const) {
    const img = await decodeImageFile(`${ROOT}/models/fixtures/decode/rgba.png`, { alpha });
    const want = new Float32Array(3 * 224 * 224);
    preprocessCpu(img, CLIP_RECIPE, want, 0);
    assertEquals(maxAbsDiff(run.npy!.data, want), 0, alpha);
  }
  assert(maxAbsDiff(drop.npy!.data, white.npy!.data) > 0.5, "alpha handling made no difference");
});

for (
  const [args, code, pattern] of [
    [["x.jpg"], 2, /--for is required/],
    [["--for", "vit", "x.jpg"], 2, /--for must be clip or resnet/],
    [["--for", "clip"], 2, /give at least one image/],
    [["--for", "clip", "--alpha", "black", "x.jpg"], 2, /--alpha must be drop or white/],
    [
      ["--for", "clip", "models/fixtures/nope.jpg"],
      1,
      /Cannot read "models\/fixtures\/nope.jpg": no such file or directory/,
    ],
    [
      ["--for", "clip", "models/fixtures/refs.json"],
      1,
      /Cannot decode image "models\/fixtures\/refs.json": not a JPEG or PNG file/,
    ],
  ] as [string[], number, RegExp][]
) {
  Deno.test(`preprocess ${args.join(" ")} fails with exit ${code} and one line`, async () => {
    const run = await runPreprocess(args);
    assertEquals(run.code, code, run.stderr);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert(pattern.test(run.stderr), run.stderr);
  });
}

Deno.test("preprocess writes where --out says and checks it before reading any image", async () => {
  const dir = await tempDir();
  try {
    const run = await runTaskCli("preprocess", [
      `${FIX}/parity/tiny.png`,
      "--for",
      "clip",
      "--device",
      "wasm",
      "--out",
      `${dir}/a/x.npy`,
    ]);
    assertEquals(run.code, 0, run.stderr);
    assert((await Deno.stat(`${dir}/a/x.npy`)).isFile);
    // An unwritable location is refused first: the missing image is never reached.
    const bad = await runTaskCli("preprocess", [
      "tests/.tmp/no-such.png",
      "--for",
      "clip",
      "--out",
      "/proc/clipcmp/x.npy",
    ]);
    assertEquals(bad.code, 1);
    assert(/^clipcmp preprocess: Cannot write to "\/proc\/clipcmp\/x\.npy": [^\n]*\n$/.test(bad.stderr), bad.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
