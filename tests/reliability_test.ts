/**
 * The bad-input suite: every case gives a one-line message naming the file or flag with its exit code, or the
 * documented graceful behaviour. docs/RELIABILITY.md lists the same cases by id; a test keeps the two in step.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { encodePng } from "../lib/image/png.ts";
import { FIX, HAS_F16, HAS_GPU, ROOT, runTaskCli } from "./_helpers.ts";

const T = `tests/.tmp/reliability`;
const ABS = `${ROOT}/${T}`;
await Deno.remove(ABS, { recursive: true }).catch(() => {});
await Deno.mkdir(ABS, { recursive: true });
const baseline = await Deno.readFile(`${FIX}/decode/baseline.jpg`);
const png = await Deno.readFile(`${FIX}/decode/rgb8.png`);
const write = (name: string, bytes: Uint8Array) => Deno.writeFileSync(`${ABS}/${name}`, bytes);
const ascii = (s: string) => new TextEncoder().encode(s);
write("empty.jpg", new Uint8Array());
write("truncated.jpg", baseline.slice(0, Math.floor(baseline.length * 0.6)));
const badCrc = png.slice();
badCrc[29] = badCrc[29]! ^ 0xff; // IHDR CRC
write("badcrc.png", badCrc);
write("text.jpg", ascii("this is not an image\n"));
Deno.mkdirSync(`${ABS}/folder.jpg`);
write("anim.gif", ascii("GIF89a\x01\x00\x01\x00\x80\x00\x00"));
write("photo.webp", ascii("RIFF\x1a\x00\x00\x00WEBPVP8 "));
write("scan.bmp", ascii("BM\x3a\x00\x00\x00\x00\x00\x00\x00"));
write("scan.tiff", ascii("II*\x00\x08\x00\x00\x00"));
write("tiny1x1.png", await encodePng({ width: 1, height: 1, data: new Uint8Array([200, 30, 30, 255]) }));
const bomb = png.slice(0, 33);
new DataView(bomb.buffer).setUint32(16, 30000);
new DataView(bomb.buffer).setUint32(20, 30000);
write("bomb.png", bomb);
Deno.copyFileSync(`${FIX}/decode/baseline.jpg`, `${ABS}/ünïcödé name 🐆.jpg`);
// Models
const tiny = `${FIX}/clip-tiny`;
Deno.mkdirSync(`${ABS}/clip-no-text/visual`, { recursive: true });
Deno.mkdirSync(`${ABS}/clip-no-text/textual`, { recursive: true });
Deno.copyFileSync(`${tiny}/visual/model.onnx`, `${ABS}/clip-no-text/visual/model.onnx`);
Deno.copyFileSync(`${tiny}/textual/tokenizer.json`, `${ABS}/clip-no-text/textual/tokenizer.json`);
const onnx = await Deno.readFile(`${FIX}/resnet-tiny/model.onnx`);
write("truncated.onnx", onnx.slice(0, Math.floor(onnx.length / 3)));
for (const [name, tok] of [["clip-bad-tokenizer", "{ not json"], ["clip-no-tokenizer", null]] as const) {
  Deno.mkdirSync(`${ABS}/${name}/visual`, { recursive: true });
  Deno.mkdirSync(`${ABS}/${name}/textual`, { recursive: true });
  Deno.copyFileSync(`${tiny}/visual/model.onnx`, `${ABS}/${name}/visual/model.onnx`);
  Deno.copyFileSync(`${tiny}/textual/model.onnx`, `${ABS}/${name}/textual/model.onnx`);
  if (tok) Deno.writeTextFileSync(`${ABS}/${name}/textual/tokenizer.json`, tok);
}
Deno.writeTextFileSync(`${ABS}/a-file`, "not a directory");

const PRE = (
  img: string,
  ...more: string[]
) => [`${T}/${img}`, "--for", "clip", "--device", "wasm", "--out", "out/reliability.npy", ...more];
const ZS = ["--clip", "models/fixtures/clip-tiny", "--device", "wasm", "data/samples/photo/n02128385_leopard.jpg"];
const SHIFT = ["--clip", "models/fixtures/clip-tiny", "--resnet", "models/fixtures/resnet-tiny", "--device", "wasm"];
const CMP = ["--clip", "models/fixtures/clip-tiny", "--resnet", "models/fixtures/resnet-tiny", "data/samples/photo"];

/** One case: what is fed, what must happen. */
export interface Case {
  id: string;
  area: "image" | "model" | "labels" | "gpu" | "disk";
  what: string;
  task: string;
  args: string[];
  env?: Record<string, string>;
  code: number;
  stderr?: RegExp;
  stdout?: RegExp;
  ignore?: boolean;
}

export const CASES: Case[] = [
  {
    id: "img-empty",
    area: "image",
    what: "zero-byte file",
    task: "preprocess",
    args: PRE("empty.jpg"),
    code: 1,
    stderr: /Cannot decode image ".*empty.jpg": empty file/,
  },
  {
    id: "img-truncated-jpeg",
    area: "image",
    what: "truncated JPEG",
    task: "preprocess",
    args: PRE("truncated.jpg"),
    code: 1,
    stderr: /"[^"]*truncated.jpg": corrupt or unsupported JPEG \(truncated JPEG stream\)/,
  },
  {
    id: "img-png-bad-crc",
    area: "image",
    what: "PNG with a bad CRC (IHDR)",
    task: "preprocess",
    args: PRE("badcrc.png"),
    code: 1,
    stderr: /"[^"]*badcrc.png": corrupt or unsupported PNG \(bad CRC in the IHDR chunk\)/,
  },
  {
    id: "img-text-as-jpg",
    area: "image",
    what: "text file named .jpg",
    task: "preprocess",
    args: PRE("text.jpg"),
    code: 1,
    stderr: /"[^"]*text.jpg": not a JPEG or PNG file/,
  },
  {
    id: "img-directory",
    area: "image",
    what: "directory given as an image (holding none)",
    task: "preprocess",
    args: PRE("folder.jpg"),
    code: 1,
    stderr: /No .jpg, .jpeg or .png files in .*folder.jpg/,
  },
  {
    id: "img-gif",
    area: "image",
    what: "GIF",
    task: "preprocess",
    args: PRE("anim.gif"),
    code: 1,
    stderr: /"[^"]*anim.gif": GIF is not supported \(JPEG and PNG are\)/,
  },
  {
    id: "img-webp",
    area: "image",
    what: "WebP",
    task: "preprocess",
    args: PRE("photo.webp"),
    code: 1,
    stderr: /WEBP is not supported/,
  },
  {
    id: "img-bmp",
    area: "image",
    what: "BMP",
    task: "preprocess",
    args: PRE("scan.bmp"),
    code: 1,
    stderr: /BMP is not supported/,
  },
  {
    id: "img-tiff",
    area: "image",
    what: "TIFF",
    task: "preprocess",
    args: PRE("scan.tiff"),
    code: 1,
    stderr: /TIFF is not supported/,
  },
  {
    id: "img-cmyk",
    area: "image",
    what: "CMYK JPEG (supported)",
    task: "preprocess",
    args: [`${FIX}/decode/cmyk.jpg`, "--for", "clip", "--device", "wasm", "--out", "out/reliability.npy"],
    code: 0,
    stderr: /wrote out\/reliability.npy/,
  },
  {
    id: "img-png16",
    area: "image",
    what: "16-bit PNG (supported)",
    task: "preprocess",
    args: [`${FIX}/decode/rgb16.png`, "--for", "resnet", "--device", "wasm", "--out", "out/reliability.npy"],
    code: 0,
    stderr: /wrote/,
  },
  {
    id: "img-grayscale",
    area: "image",
    what: "grayscale JPEG (supported)",
    task: "preprocess",
    args: [`${FIX}/decode/grayscale.jpg`, "--for", "clip", "--device", "wasm", "--out", "out/reliability.npy"],
    code: 0,
    stderr: /wrote/,
  },
  {
    id: "img-palette-alpha",
    area: "image",
    what: "palette PNG with transparency (supported)",
    task: "preprocess",
    args: [
      `${FIX}/decode/palette-transparent.png`,
      "--for",
      "clip",
      "--device",
      "wasm",
      "--out",
      "out/reliability.npy",
    ],
    code: 0,
    stderr: /wrote/,
  },
  {
    id: "img-1x1",
    area: "image",
    what: "1×1 image (upsampled like PIL)",
    task: "preprocess",
    args: PRE("tiny1x1.png"),
    code: 0,
    stderr: /wrote out\/reliability.npy: \[1, 3, 224, 224\]/,
  },
  {
    id: "img-bomb",
    area: "image",
    what: "30000×30000 PNG (refused from the header)",
    task: "preprocess",
    args: PRE("bomb.png"),
    code: 1,
    stderr: /30000x30000 exceeds the 178956970-pixel limit/,
  },
  {
    id: "img-unicode-path",
    area: "image",
    what: "unicode and spaces in the path",
    task: "preprocess",
    args: PRE("ünïcödé name 🐆.jpg"),
    code: 0,
    stderr: /wrote/,
  },
  {
    id: "img-batch-skip",
    area: "image",
    what: "bad images in a batch run are skipped and listed",
    task: "zeroshot",
    args: [
      "--clip",
      "models/fixtures/clip-tiny",
      "--device",
      "wasm",
      "--labels",
      "cat,dog",
      "data/samples/photo/n02128385_leopard.jpg",
      `${T}/text.jpg`,
      `${T}/empty.jpg`,
    ],
    code: 0,
    stderr: /skipped .*text.jpg: .*not a JPEG or PNG[\s\S]*skipped .*empty.jpg: .*empty file/,
    stdout: /1 image\(s\) classified over 2 labels, 2 skipped/,
  },
  {
    id: "img-nothing-usable",
    area: "image",
    what: "a batch run where nothing is usable",
    task: "zeroshot",
    args: ["--clip", "models/fixtures/clip-tiny", "--device", "wasm", "--labels", "cat,dog", `${T}/text.jpg`],
    code: 1,
    stderr: /Nothing to classify: 1 input\(s\) skipped, none usable/,
  },
  {
    id: "model-missing-file",
    area: "model",
    what: "CLIP directory without textual/model.onnx",
    task: "zeroshot",
    args: [
      "--clip",
      `${T}/clip-no-text`,
      "--device",
      "wasm",
      "--labels",
      "a,b",
      "data/samples/photo/n02128385_leopard.jpg",
    ],
    code: 1,
    stderr: /Cannot read model ".*clip-no-text\/textual\/model.onnx": file not found/,
  },
  {
    id: "model-truncated-onnx",
    area: "model",
    what: "truncated ONNX",
    task: "compare",
    args: ["--resnet", `${T}/truncated.onnx`, "--device", "wasm", "--no-report", "data/samples/photo"],
    code: 1,
    stderr: /Cannot load model ".*truncated.onnx": /,
  },
  {
    id: "model-wrong-io",
    area: "model",
    what: "wrong outputs (a CLIP image tower given as the ResNet)",
    task: "compare",
    args: [
      "--resnet",
      "models/fixtures/clip-tiny/visual/model.onnx",
      "--device",
      "wasm",
      "--no-report",
      "data/samples/photo",
    ],
    code: 1,
    stderr: /"models\/fixtures\/clip-tiny\/visual\/model.onnx" output "embedding" has 1024 classes, expected 1000/,
  },
  {
    id: "model-int64-text",
    area: "model",
    what: "int64 token ids instead of int32 (handled)",
    task: "zeroshot",
    args: [
      "--clip",
      "models/fixtures/clip-tiny-int64",
      "--device",
      "wasm",
      "--labels",
      "cat,dog",
      "data/samples/photo/n02128385_leopard.jpg",
    ],
    code: 0,
    stdout: /1 image\(s\) classified/,
  },
  {
    id: "model-corrupt-tokenizer",
    area: "model",
    what: "corrupt tokenizer.json",
    task: "zeroshot",
    args: [
      "--clip",
      `${T}/clip-bad-tokenizer`,
      "--device",
      "wasm",
      "--labels",
      "a,b",
      "data/samples/photo/n02128385_leopard.jpg",
    ],
    code: 1,
    stderr: /Cannot read tokenizer ".*clip-bad-tokenizer\/textual\/tokenizer.json": /,
  },
  {
    id: "model-missing-tokenizer",
    area: "model",
    what: "missing tokenizer.json",
    task: "zeroshot",
    args: [
      "--clip",
      `${T}/clip-no-tokenizer`,
      "--device",
      "wasm",
      "--labels",
      "a,b",
      "data/samples/photo/n02128385_leopard.jpg",
    ],
    code: 1,
    stderr: /Cannot read tokenizer ".*clip-no-tokenizer\/textual\/tokenizer.json": file not found/,
  },
  {
    id: "model-offline-missing",
    area: "model",
    what: "--offline with nothing cached",
    task: "compare",
    args: ["--offline", "--no-report"],
    code: 1,
    stderr: /Model clip-rn50 .* is not in the cache .* --offline forbids downloading it/,
  },
  {
    id: "labels-empty",
    area: "labels",
    what: "empty label",
    task: "zeroshot",
    args: [...ZS, "--labels", "cat,,dog"],
    code: 2,
    stderr: /--labels: label 2 is empty/,
  },
  {
    id: "labels-duplicate",
    area: "labels",
    what: "duplicate label",
    task: "zeroshot",
    args: [...ZS, "--labels", "cat,dog,cat"],
    code: 2,
    stderr: /"cat" appears twice/,
  },
  {
    id: "labels-too-long",
    area: "labels",
    what: "prompt over 77 tokens (warned, truncated)",
    task: "zeroshot",
    args: [...ZS, "--labels", `cat,${"very ".repeat(90)}long dog`],
    code: 0,
    stderr: /warning: prompt over 77 tokens, truncated/,
  },
  {
    id: "labels-template-no-slot",
    area: "labels",
    what: "template without {}",
    task: "zeroshot",
    args: [...ZS, "--labels", "cat,dog", "--template", "a photo"],
    code: 2,
    stderr: /--template must contain \{\}/,
  },
  {
    id: "gpu-no-adapter-auto",
    area: "gpu",
    what: "no adapter, --device auto (falls back to wasm with a note)",
    task: "compare",
    args: [...CMP, "--no-report"],
    env: { CLIPCMP_FAULTS: "no-adapter" },
    code: 0,
    stderr: /device: wasm \(auto: no WebGPU adapter found\)/,
  },
  {
    id: "gpu-no-adapter-webgpu",
    area: "gpu",
    what: "no adapter, --device webgpu",
    task: "compare",
    args: [...CMP, "--no-report", "--device", "webgpu"],
    env: { CLIPCMP_FAULTS: "no-adapter" },
    code: 1,
    stderr: /--device webgpu: no WebGPU adapter found/,
  },
  {
    id: "gpu-no-f16",
    area: "gpu",
    what: "no shader-f16: fp16 refused by name",
    task: "preprocess",
    args: [
      "data/samples/photo",
      "--for",
      "clip",
      "--dtype",
      "fp16",
      "--device",
      "webgpu",
      "--out",
      "out/reliability.npy",
    ],
    env: { CLIPCMP_FAULTS: "no-f16" },
    code: 1,
    stderr: /--dtype fp16 on webgpu needs working shader-f16: adapter lacks shader-f16/,
    ignore: !HAS_GPU,
  },
  {
    id: "gpu-no-f16-fp32-works",
    area: "gpu",
    what: "no shader-f16: fp32 still works",
    task: "preprocess",
    args: ["data/samples/photo", "--for", "clip", "--device", "webgpu", "--out", "out/reliability.npy"],
    env: { CLIPCMP_FAULTS: "no-f16" },
    code: 0,
    stderr: /f16 no \(adapter lacks shader-f16[\s\S]*wrote/,
    ignore: !HAS_GPU,
  },
  {
    id: "gpu-shift-no-adapter",
    area: "gpu",
    what: "no adapter: the shift kernels refuse by name (models alone could fall back to wasm)",
    task: "shift",
    args: [...SHIFT, "--limit", "1"],
    env: { CLIPCMP_FAULTS: "no-adapter" },
    code: 1,
    stderr: /The shifts are WebGPU kernels and no WebGPU adapter was found/,
  },
  {
    id: "gpu-shift-no-f16",
    area: "gpu",
    what: "no shader-f16: shift --precision f16 refused by name",
    task: "shift",
    args: [...SHIFT, "--limit", "1", "--precision", "f16"],
    env: { CLIPCMP_FAULTS: "no-f16" },
    code: 1,
    stderr: /--precision f16: /,
    ignore: !HAS_GPU,
  },
  {
    id: "gpu-device-lost",
    area: "gpu",
    what: "device lost mid-run: stops cleanly, keeps and reports finished results",
    task: "compare",
    args: [
      "--clip",
      "models/fixtures/clip-tiny",
      "--resnet",
      "models/fixtures/resnet-tiny",
      "--device",
      "webgpu",
      "--out",
      "reports/reliability-lost",
    ],
    env: { CLIPCMP_FAULTS: "lose-device-after=1" },
    code: 1,
    stderr: /stopped after 64 images: GPU device lost .* finished results were written to \S*reports\/reliability-lost/,
    ignore: !HAS_GPU,
  },
  {
    id: "disk-report-unwritable",
    area: "disk",
    what: "report directory the system will not let anyone create (checked before any work)",
    task: "compare",
    args: [...CMP, "--out", "/proc/clipcmp-report"],
    code: 1,
    stderr: /^clipcmp compare: Cannot write to "\/proc\/clipcmp-report": [^\n]*\n$/,
  },
  {
    id: "disk-shift-unwritable",
    area: "disk",
    what: "shift report directory that cannot be created",
    task: "shift",
    args: [...SHIFT, "--out", "/proc/clipcmp-shift"],
    code: 1,
    stderr: /Cannot write to "\/proc\/clipcmp-shift": /,
  },
  {
    id: "disk-report-is-file",
    area: "disk",
    what: "report directory that is a file (checked before any work)",
    task: "compare",
    args: [...CMP, "--out", "reports/reliability-file/report"],
    code: 1,
    stderr:
      /^clipcmp compare: Cannot write to "reports\/reliability-file\/report" \(in [^)]*\): a file of that name is in the way\n$/,
  },
  {
    id: "disk-cache-unwritable",
    area: "disk",
    what: "unwritable cache (the head is not cached; the run goes on)",
    task: "zeroshot",
    args: [...ZS, "--labels", "cat,dog", "--cache-dir", "/proc/clipcmp-cache"],
    code: 0,
    stderr: /warning: could not cache the zero-shot head in \/proc\/clipcmp-cache/,
  },
];

/** Cases proven elsewhere, in-process (network faults need an injected fetch or a loopback server). */
export const ELSEWHERE: { id: string; what: string; test: string }[] = [
  { id: "net-offline", what: "offline", test: "tests/download_test.ts: offline: a missing file is named…" },
  {
    id: "net-dns",
    what: "DNS failure (injected)",
    test: "tests/download_test.ts: DNS and connection failures are injected…",
  },
  {
    id: "net-refused",
    what: "connection refused (injected)",
    test: "tests/download_test.ts: DNS and connection failures are injected…",
  },
  { id: "net-404", what: "HTTP 404", test: "tests/download_test.ts: HTTP 404 and 500 give one-line messages…" },
  { id: "net-500", what: "HTTP 500", test: "tests/download_test.ts: HTTP 404 and 500 give one-line messages…" },
  {
    id: "net-cut",
    what: "cut mid-transfer, then resumed",
    test: "tests/download_test.ts: a transfer cut mid-way resumes…",
  },
  { id: "net-stall", what: "stalled transfer", test: "tests/download_test.ts: a stalled transfer times out…" },
  {
    id: "net-hash",
    what: "hash mismatch",
    test: "tests/download_test.ts: a hash mismatch is rejected and nothing is cached",
  },
  ...[
    ["trust-206-splice", "a 206 that does not continue where the partial file ends (issue 15 #7)"],
    ["trust-oversize", "a body longer than X-Linked-Size (#10)"],
    ["trust-header-timeout", "a server that accepts and never answers (#10)"],
    ["trust-trickle", "a transfer slower than 1 KB/s over a minute (#10)"],
    ["trust-lock-corrupt", "a corrupt lock file, --offline included; cache --clear recovers (#8)"],
    ["trust-device-path", "an image path that is /dev/zero or /dev/urandom, behind a symlink too (#13)"],
    ["trust-npy-length", "a truncated .npy (#6)"],
    ["trust-head-cache", "a truncated or NaN-filled zero-shot head in the cache (#6)"],
    ["trust-fp16-cache", "an fp16 model cut short by a kill, or bit-flipped (#5)"],
    ["trust-label-files", "label dicts in every layout (Python, JSON, braces on their own lines), duplicates (#4)"],
    ["trust-symlinks", "symlinked images and class folders, link loops, broken links, an empty shard (#3)"],
    ["trust-escaping", "names with CSV/formula characters, HTML in report.md, ESC bytes in messages (#16)"],
    [
      "trust-eval-mix",
      "eval resumed or merged with other models, templates or subset; stale and conflicting lines (#1)",
    ],
    [
      "trust-zip-bomb",
      "a ZIP entry inflating past its declared size, too much declared in all, a corrupt offset (#11)",
    ],
    ["trust-non-finite", "NaN model outputs (wasm and webgpu), a zero image_std in a preprocessor config (#2)"],
    ["trust-decoder-trap", "a PNG that makes the wasm decoder trap (`unwrap_throw`, `unreachable`)"],
    ["trust-zeroshot-stream", "zeroshot over more images than one chunk holds (#14)"],
    ["trust-kill-download", "zeroshot killed mid-download, then run again (kill points)"],
    ["trust-kill-head", "zeroshot killed while building the zero-shot head, then run again (kill points)"],
    ["trust-kill-fp16", "zeroshot --dtype fp16 killed between the towers' conversions and copies (kill points)"],
    ["trust-kill-report", "compare killed while writing its report: the old set or none, never a mix (kill points)"],
    ["trust-params-non-model", "params on an empty, text, random or tag-only .onnx file"],
    ["trust-unreachable-hub", "a hub that refuses the connection: the message names every way on"],
  ].map(([id, what]) => ({ id: id!, what: what!, test: `tests/trust_test.ts \`[${id}]\`` })),
  {
    id: "trust-permissions",
    what:
      "every cache location (--cache-dir, $CLIPCMP_CACHE_DIR, $XDG_CACHE_HOME, macOS), any --out, a mirror that no default lists, a terminal (#12)",
    test: "tests/launch_test.ts: each documented cache location, mirror, --out and pseudo-terminal test",
  },
  {
    id: "trust-large-photo",
    what: "a photo whose window is over the GPU's binding limit takes the CPU preprocessing path (#15)",
    test: "tests/kernels_test.ts: an image whose source window is over the binding limit is preprocessed on the CPU…",
  },
  {
    id: "net-redirect-target",
    what: "a redirect to file:, another host, or plain http to the CDN (#9)",
    test: "tests/hub_canonical_test.ts: redirects to anything but the hub or its CDN are refused…",
  },
  {
    id: "model-corrupt-cache",
    what: "corrupt cache entry (detected by hash)",
    test:
      "tests/download_test.ts: offline: … a corrupt cache entry is caught by its hash, re-fetched online, refused offline",
  },
];

Deno.mkdirSync(`${ROOT}/reports/reliability-file`, { recursive: true });
Deno.writeTextFileSync(`${ROOT}/reports/reliability-file/report`, "a file where a directory should be");

for (const c of CASES) {
  Deno.test({
    name: `[${c.id}] ${c.what}: exit ${c.code}`,
    ignore: c.ignore ?? false,
    fn: async () => {
      const run = await runTaskCli(c.task, c.args, c.env ?? {});
      assertEquals(run.code, c.code, run.stderr);
      if (c.stderr) assert(c.stderr.test(run.stderr), run.stderr);
      if (c.stdout) assert(c.stdout.test(run.stdout), run.stdout);
      assert(!/\n\s+at .*:\d+:\d+/.test(run.stderr), `stack trace in stderr:\n${run.stderr}`);
      if (c.code !== 0) {
        const lines = run.stderr.trim().split("\n").filter((l) => l.startsWith("clipcmp "));
        assertEquals(lines.length, 1, run.stderr);
      }
    },
  });
}

Deno.test("the bad-input suite has at least 30 cases and docs/RELIABILITY.md lists every one", async () => {
  assert(CASES.length + ELSEWHERE.length >= 30, `${CASES.length + ELSEWHERE.length} cases`);
  const doc = await Deno.readTextFile(`${ROOT}/docs/RELIABILITY.md`);
  for (const c of [...CASES, ...ELSEWHERE]) assert(doc.includes(`\`${c.id}\``), `docs/RELIABILITY.md lacks ${c.id}`);
});

Deno.test({
  name: "the device-lost run kept its finished results in the report",
  ignore: !HAS_GPU,
  fn: async () => {
    const json = JSON.parse(await Deno.readTextFile(`${ROOT}/reports/reliability-lost/results.json`));
    assertEquals(json.comparison.summary.n, 64);
    assert(/GPU device lost/.test(json.comparison.incomplete));
    assert(
      json.comparison.skipped.length === 66 &&
        json.comparison.skipped.every((s: { reason: string }) => /not run: GPU device lost/.test(s.reason)),
    );
  },
});

Deno.test("cleanup: remove the reliability reports", async () => {
  for (const d of ["reports/reliability-lost", "reports/reliability-file", "out/reliability.npy"]) {
    await Deno.remove(`${ROOT}/${d}`, { recursive: true }).catch(() => {});
  }
  assert(!(await Deno.stat(`${ROOT}/reports/reliability-lost`).then(() => true, () => false)));
  if (!HAS_F16) console.warn("note: f16 cases were ignored (no working shader-f16)");
});
