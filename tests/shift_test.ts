import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chromium, layout } from "./_browser.ts";
import { GpuShift } from "../kernels/shift.ts";
import { shiftCpu } from "../lib/shift/cpu.ts";
import { imageSeed, shiftParams, SHIFTS } from "../lib/shift/params.ts";
import { decodeImageFile, type RgbaImage } from "../lib/image/decode.ts";
import { HAS_F16, HAS_GPU, refs, rng, ROOT, runTaskCli, withDevice } from "./_helpers.ts";

/** A 96x72 crop of a photo plus a random-pixel image: real edges and flat regions, and worst-case noise. */
const photo = await decodeImageFile(`${ROOT}/${refs.images[9]}`);
function crop(img: RgbaImage, w: number, h: number): RgbaImage {
  const data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(y * img.width * 4, (y * img.width + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}
const r = rng(5);
const images: RgbaImage[] = [
  crop(photo, 96, 72),
  { width: 37, height: 23, data: Uint8Array.from({ length: 37 * 23 * 4 }, () => Math.floor(r() * 256)) },
];

function diff(a: Uint8Array, b: Uint8Array) {
  let max = 0, over1 = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
    if (d > 1) over1++;
  }
  return { max, over1: over1 / a.length, mean: sum / a.length };
}

Deno.test({
  name: "shift kernels in f32 match the float64 CPU reference within 1 level, every shift and severity",
  ignore: !HAS_GPU,
  async fn() {
    await withDevice(async ({ device }) => {
      const gpu = new GpuShift(device, "f32");
      for (const shift of SHIFTS) {
        for (let sev = 1; sev <= 5; sev++) {
          // One call, two images of different sizes: they share the kernel's buffers, each in its own slot.
          const got = await gpu.render(images, shift, sev, 42);
          got.forEach((g, i) => {
            const d = diff(g.data, shiftCpu(images[i]!, shift, sev, imageSeed(42, i)).data);
            assert(d.max <= 1, `${shift} ${sev} image ${i}: max ${d.max}`);
          });
        }
      }
      gpu.release();
    });
  },
});

Deno.test({
  name: "shift kernels in f16 stay within f16 rounding of the reference (XDoG sketch amplifies it most)",
  ignore: !HAS_F16,
  async fn() {
    await withDevice(async ({ device }) => {
      const gpu = new GpuShift(device, "f16");
      for (const shift of SHIFTS) {
        for (const sev of [1, 3, 5]) {
          const got = await gpu.render(images.slice(0, 1), shift, sev, 42);
          const d = diff(got[0]!.data, shiftCpu(images[0]!, shift, sev, imageSeed(42, 0)).data);
          // Measured on llvmpipe: sketch up to 6 % of values off by more than a level (its threshold multiplies a
          // difference of two blurs by 100), cartoon 0.2 %, the rest at most 1 level.
          const bound = shift === "sketch"
            ? { over1: 0.1, mean: 3 }
            : shift === "cartoon"
            ? { over1: 0.01, mean: 0.5 }
            : { over1: 0, mean: 0.5 };
          assert(d.over1 <= bound.over1 && d.mean <= bound.mean, `${shift} ${sev}: ${JSON.stringify(d)}`);
        }
      }
      gpu.release();
    });
  },
});

Deno.test({
  name: "shifts are deterministic: the same seed renders the same bytes, another seed other noise",
  ignore: !HAS_GPU,
  async fn() {
    await withDevice(async ({ device }) => {
      const gpu = new GpuShift(device, "f32");
      const a = await gpu.render(images, "noise", 3, 7);
      const b = await gpu.render(images, "noise", 3, 7);
      const c = await gpu.render(images, "noise", 3, 8);
      assertEquals(a.map((x) => Array.from(x.data)), b.map((x) => Array.from(x.data)));
      assert(diff(a[0]!.data, c[0]!.data).max > 10);
      // On a whole photo, each severity changes it more than the one before (mean distance to the clean image).
      for (const shift of SHIFTS) {
        const dist: number[] = [];
        for (let sev = 1; sev <= 5; sev++) {
          dist.push(diff((await gpu.render([photo], shift, sev, 7))[0]!.data, photo.data).mean);
        }
        // Sketch is a change of style at every severity (thicker, fewer lines as it grows), so only the others
        // are expected to move away from the clean image step by step.
        if (shift !== "sketch") {
          assert(
            dist.every((d, i) => i === 0 || d >= dist[i - 1]! - 0.5),
            `${shift}: ${dist.map((d) => d.toFixed(2))}`,
          );
        }
        assert(dist[0]! > 1, `${shift} severity 1 barely changes the image: ${dist[0]}`);
      }
      gpu.release();
    });
  },
});

Deno.test({
  name: "shift kernels split images into groups when the shared buffers would pass the limit, same bytes",
  ignore: !HAS_GPU,
  async fn() {
    await withDevice(async ({ device }) => {
      const whole = new GpuShift(device, "f32");
      // 64 KiB per buffer: each image (up to 110 KiB of blur rows) in a group of its own.
      const split = new GpuShift(device, "f32", { x: 16, y: 16, groupBytes: 64 * 1024 });
      const three = [images[1]!, images[0]!, images[1]!];
      for (const shift of ["blur", "noise"] as const) {
        const a = await whole.render(three, shift, 2, 9);
        const b = await split.render(three, shift, 2, 9);
        assertEquals(b.map((x) => Array.from(x.data)), a.map((x) => Array.from(x.data)));
      }
      whole.release();
      split.release();
    });
  },
});

Deno.test("shiftParams() scales pixel sizes with the short side and refuses severities outside 1..5", () => {
  assertEquals(shiftParams("blur", 3, 224, 500).a, 3);
  assertEquals(shiftParams("pixelate", 5, 448, 448).k, 20);
  assertEquals(shiftParams("noise", 1, 10, 10).a, 0.08);
  for (const bad of [0, 6, 1.5]) {
    let threw = false;
    try {
      shiftParams("blur", bad, 224, 224);
    } catch (e) {
      threw = e instanceof RangeError;
    }
    assert(threw, String(bad));
  }
});

Deno.test({
  name: "deno task shift writes the curves report, results and a contact sheet of 7 shifts x 6 columns",
  ignore: !HAS_GPU,
  async fn() {
    const out = `reports/test-shift-${crypto.randomUUID().slice(0, 6)}`;
    try {
      const run = await runTaskCli("shift", [
        "--clip",
        "models/fixtures/clip-tiny",
        "--resnet",
        "models/fixtures/resnet-tiny",
        "--device",
        "wasm",
        "--limit",
        "3",
        "--out",
        out,
      ]);
      assertEquals(run.code, 0, run.stderr);
      const html = Deno.readTextFileSync(`${ROOT}/${out}/report.html`);
      assertEquals((html.match(/aria-label="[a-z]+ top-1 by severity"/g) ?? []).length, SHIFTS.length);
      assertEquals((html.match(/<polyline /g) ?? []).length, 2 * SHIFTS.length);
      // Pivoted: one table per model, a row per shift with clean, severities 1-5 and the AUC.
      assertEquals((html.match(/<table class="pivot">/g) ?? []).length, 2);
      assertEquals((html.match(/<tr><th scope="row">/g) ?? []).length, 2 * SHIFTS.length);
      assert(html.includes("ImageNet-C-style") && html.includes('class="caveat"'), "AUC label and small-n caveat");
      // The contact sheet is embedded, labelled with every shift and severity.
      assert(/<image [^>]*href="data:image\/png;base64,/.test(html));
      for (const s of SHIFTS) assert(html.includes(`text-anchor="end">${s}</text>`), s);
      for (const c of ["clean", "severity 1", "severity 5"]) assert(html.includes(`>${c}</text>`), c);
      assert(!/(src|href)=["']?(https?:)?\/\//i.test(html), "network reference in the shift report");
      if (chromium) {
        for (const width of [1280, 800]) {
          const r = await layout(`${ROOT}/${out}`, html, `layout-${width}.html`, width);
          assertEquals([r.bad, r.fetched], [[], []], `at ${width}px: ${JSON.stringify(r)}`);
          assert(r.scroll <= r.vw, `at ${width}px the shift report scrolls sideways`);
        }
      }
      const res = JSON.parse(Deno.readTextFileSync(`${ROOT}/${out}/results.json`));
      assertEquals(res.auc.length, 2 * SHIFTS.length);
      for (const a of res.auc) {
        const pts = res.rows.filter((r: { model: string; shift: string }) =>
          r.model === a.model && (r.shift === a.shift || r.shift === "clean")
        ).sort((x: { severity: number }, y: { severity: number }) => x.severity - y.severity);
        // An independent trapezoid: (v0/2 + v1 + ... + v4 + v5/2) / 5.
        const t = pts.map((r: { top1: number }) => r.top1);
        assert(Math.abs(a.auc - (t[0] / 2 + t[1] + t[2] + t[3] + t[4] + t[5] / 2) / 5) < 1e-9, JSON.stringify(a));
      }
      // clean + 7 shifts x 5 severities, for 2 models
      assertEquals(res.rows.length, 2 * (1 + 5 * SHIFTS.length));
      for (const row of res.rows) assert(row.n === 3 && row.top1 >= 0 && row.top1 <= row.top5 && row.top5 <= 1);
      const png = Deno.readFileSync(`${ROOT}/${out}/contact-sheet.png`);
      const view = new DataView(png.buffer);
      assertEquals([view.getUint32(16), view.getUint32(20)], [6 * 164 + 4, SHIFTS.length * 164 + 4]);
      Deno.mkdirSync(`${ROOT}/tests/.tmp/artifacts`, { recursive: true });
      Deno.copyFileSync(`${ROOT}/${out}/contact-sheet.png`, `${ROOT}/tests/.tmp/artifacts/shift-contact-sheet.png`);
    } finally {
      Deno.removeSync(`${ROOT}/${out}`, { recursive: true });
    }
  },
});

Deno.test("deno task shift refuses an unknown shift and an image without a wnid, in one line each", async () => {
  const bad = await runTaskCli("shift", ["--shifts", "sketch,fog"]);
  assertEquals(bad.code, 2);
  assert(/--shifts/.test(bad.stderr) && !/\n\s+at /.test(bad.stderr), bad.stderr);
  const noWnid = await runTaskCli("shift", ["models/fixtures/decode/baseline.jpg"]);
  assertEquals(noWnid.code, 1);
  assert(/no ImageNet wnid/.test(noWnid.stderr) && !/\n\s+at /.test(noWnid.stderr), noWnid.stderr);
});
