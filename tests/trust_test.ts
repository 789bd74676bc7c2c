/**
 * Trust under hostile input (issue 15): each test covers one class of failure that used to lose or falsify results,
 * and fails on the code before its fix. docs/RELIABILITY.md lists them (the `trust-*` ids in tests/reliability_test.ts).
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { createHash } from "node:crypto";
import { cachePath, ensureFile, type HubOptions } from "../lib/hub/download.ts";
import { lockPath, readLock } from "../lib/hub/lockfile.ts";
import { decodeImageFile } from "../lib/image/decode.ts";
import { decodeNpy, encodeNpy } from "../lib/npy.ts";
import { fp16Model } from "../lib/fp16.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { FIX, runTaskCli, tempDir, TINY_MODELS } from "./_helpers.ts";

const quiet = () => ({ update() {}, finish() {} });
const FILE = { repo: "o/m", revision: "main", path: "model.onnx" };
const BODY = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 251);
const SHA = createHash("sha256").update(BODY).digest("hex");
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

function opts(cacheDir: string, fetchFn: typeof fetch, more: Partial<HubOptions> = {}): HubOptions {
  return { endpoint: "https://huggingface.co", cacheDir, offline: false, fetch: fetchFn, progress: quiet, ...more };
}

/** A hub that answers resolve with a 302 carrying the sha256, and the CDN with `cdn(range)`. */
function hub(cdn: (range: string | null) => Response, etag: string | null = SHA, size = BODY.length): typeof fetch {
  return (input, init) => {
    const u = String(input);
    const range = new Headers(init?.headers).get("range");
    if (u.startsWith("https://huggingface.co/")) {
      const h: Record<string, string> = { location: "https://cdn.hf.co/blob", "x-linked-size": String(size) };
      if (etag) h["x-linked-etag"] = `"${etag}"`;
      return Promise.resolve(new Response(null, { status: 302, headers: h }));
    }
    return Promise.resolve(cdn(range));
  };
}

Deno.test("[trust-206-splice] a 206 that does not continue at the partial file's end restarts the download instead of splicing", async () => {
  const dir = await tempDir();
  const dest = cachePath(dir, FILE);
  await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(`${dest}.part`, BODY.slice(0, 40_000)); // an earlier, interrupted transfer
  // A CDN that answers every Range request with the whole file as "206" (Content-Range from 0).
  const splicing = hub((range) =>
    range
      ? new Response(BODY, { status: 206, headers: { "content-range": `bytes 0-${BODY.length - 1}/${BODY.length}` } })
      : new Response(BODY)
  );
  for (const etag of [SHA, null]) {
    await Deno.writeFile(`${dest}.part`, BODY.slice(0, 40_000));
    await Deno.remove(dest).catch(() => {});
    const p = await ensureFile(
      FILE,
      opts(dir, hub((r) => splicing("x", { headers: r ? { range: r } : {} }) as never, etag)),
    );
    assertEquals(await Deno.readFile(p), BODY, `etag ${etag}`);
    assertEquals((await readLock(dir))[`o/m@main/model.onnx`]!.sha256, SHA);
    await Deno.remove(lockPath(dir));
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("[trust-oversize] a body longer than X-Linked-Size is cut off with one line naming the host; nothing is cached", async () => {
  const dir = await tempDir();
  const long = new Uint8Array(BODY.length * 3);
  await rejects(
    ensureFile(FILE, opts(dir, hub(() => new Response(long)))),
    (e: Error) =>
      e instanceof ClipcmpError && /sent more than the 100000 bytes announced; nothing was cached/.test(e.message),
  );
  assert(!(await exists(cachePath(dir, FILE))) && !(await exists(`${cachePath(dir, FILE)}.part`)));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("[trust-header-timeout] a server that accepts and never answers times out with one line naming the host", async () => {
  const dir = await tempDir();
  const silent: typeof fetch = (_input, init) =>
    new Promise((_, reject) =>
      init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))
    );
  const t0 = performance.now();
  await rejects(
    ensureFile(FILE, opts(dir, silent, { headerTimeoutMs: 200 })),
    (e: Error) => e instanceof ClipcmpError && /huggingface\.co sent no answer within 0\.2 s/.test(e.message),
  );
  assert(performance.now() - t0 < 5_000);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("[trust-trickle] a transfer slower than the minimum rate is stopped, naming the host, and can resume", async () => {
  const dir = await tempDir();
  const trickle = hub(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async pull(ctrl) {
          await new Promise((r) => setTimeout(r, 20));
          ctrl.enqueue(new Uint8Array([1]));
        },
      }),
    )
  );
  await rejects(
    ensureFile(FILE, opts(dir, trickle, { minRate: { bytesPerSecond: 1000, windowMs: 300 } })),
    (e: Error) =>
      /interrupted after \d+ bytes .*huggingface\.co sent \d+ bytes in 0 s, below the minimum of 1000 bytes\/s/.test(
        e.message,
      ),
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("[trust-lock-corrupt] a corrupt lock file is named with how to recover, --offline included; cache --clear recovers", async () => {
  const home = await tempDir();
  const cacheDir = `${home}/.cache/clipcmp`;
  await Deno.mkdir(cacheDir, { recursive: true });
  await Deno.writeTextFile(lockPath(cacheDir), '{"version": 1, "files": {"x": nul');
  const dest = cachePath(cacheDir, FILE); // a cached file, so that the lock is what gets read
  await Deno.mkdir(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
  await Deno.writeFile(dest, BODY);
  for (const offline of [false, true]) {
    await rejects(
      ensureFile(FILE, opts(cacheDir, hub(() => new Response(BODY)), { offline })),
      (e: Error) =>
        e instanceof ClipcmpError && e.message.includes(lockPath(cacheDir)) &&
        /is corrupt .*deno task cache --clear/.test(e.message),
    );
  }
  const env = { HOME: home, XDG_CACHE_HOME: "", CLIPCMP_CACHE_DIR: "" };
  const list = await runTaskCli("cache", [], env);
  assertEquals(list.code, 1);
  assert(
    /clipcmp cache: The lock file .* is corrupt/.test(list.stderr) && !/internal error/.test(list.stderr),
    list.stderr,
  );
  const clear = await runTaskCli("cache", ["--clear"], env);
  assertEquals(clear.code, 0, clear.stderr);
  assert(!(await exists(lockPath(cacheDir))));
  await Deno.remove(home, { recursive: true });
});

Deno.test("[trust-device-path] an image path that is /dev/zero or /dev/urandom (behind a symlink too) is refused at once", async () => {
  // models/fixtures/hostile/ holds committed symlinks to the devices (tests may not create symlinks).
  for (const path of ["/dev/zero", "/dev/urandom", `${FIX}/hostile/zero.jpg`, `${FIX}/hostile/urandom.png`]) {
    await rejects(
      decodeImageFile(path),
      (e: Error) => /not a regular file \(a device, FIFO or socket\)/.test(e.message),
    );
    const run = await runTaskCli("preprocess", [path, "--for", "clip", "--out", "out/trust.npy"]);
    assertEquals(run.code, 1, run.stderr);
    assert(/not a regular file/.test(run.stderr), run.stderr);
  }
});

Deno.test("[trust-npy-length] a truncated .npy is refused by its length, not read as a shorter array", () => {
  const good = encodeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), "<f4", [2, 3]);
  assertEquals([...decodeNpy(good).data], [1, 2, 3, 4, 5, 6]);
  assert(/holds 16 bytes, its shape \(2, 3\) needs 24/.test(String((() => {
    try {
      decodeNpy(good.slice(0, good.length - 8));
    } catch (err) {
      return (err as Error).message;
    }
  })())));
});

Deno.test("[trust-head-cache] a truncated or NaN-filled zero-shot head is not a cache hit: it is rebuilt, and the result is the same", async () => {
  const home = await tempDir();
  const env = { HOME: home, XDG_CACHE_HOME: "", CLIPCMP_CACHE_DIR: "" };
  const args = [
    "--clip",
    "models/fixtures/clip-tiny",
    "--device",
    "wasm",
    "--labels",
    "cat,dog,leopard",
    "--json",
    "data/samples/photo/n02128385_leopard.jpg",
  ];
  const first = await runTaskCli("zeroshot", args, env);
  assertEquals(first.code, 0, first.stderr);
  const heads = `${home}/.cache/clipcmp/heads`;
  const file = [...Deno.readDirSync(heads)].map((e) => e.name).find((n) => n.endsWith(".npy"))!;
  const bytes = await Deno.readFile(`${heads}/${file}`);
  for (
    const spoil of [
      (b: Uint8Array) => b.slice(0, b.length - 100),
      (b: Uint8Array) => b.map((x, i) => (i > 200 ? 0xff : x)),
    ]
  ) {
    await Deno.writeFile(`${heads}/${file}`, spoil(bytes));
    const again = await runTaskCli("zeroshot", args, env);
    assertEquals(again.code, 0, again.stderr);
    assert(/fails its checksum/.test(again.stderr) && !/cache hit/.test(again.stderr), again.stderr);
    assertEquals(JSON.parse(again.stdout).results, JSON.parse(first.stdout).results);
  }
  await Deno.remove(home, { recursive: true });
});

Deno.test("[trust-fp16-cache] an fp16 model cut short by a kill, or bit-flipped, is converted again rather than failing every run", async () => {
  const cache = await tempDir();
  const src = `${FIX}/resnet-tiny-dyn/model.onnx`;
  const out = await fp16Model(src, cache);
  const good = await Deno.readFile(out);
  const spoils: [string, () => Promise<void>][] = [
    ["truncated", () => Deno.writeFile(out, good.slice(0, good.length >> 1))],
    ["bit flip", () => Deno.writeFile(out, good.map((x, i) => (i === good.length - 50 ? x ^ 1 : x)))],
    ["no checksum (killed between the two writes)", () => Deno.remove(`${out}.sha256`)],
  ];
  for (const [what, spoil] of spoils) {
    await spoil();
    const lines: string[] = [];
    assertEquals(await fp16Model(src, cache, (l) => lines.push(l)), out);
    assertEquals(await Deno.readFile(out), good, what);
    assert(lines.some((l) => /converted/.test(l)), `${what}: ${lines.join("\n")}`);
  }
  await Deno.remove(cache, { recursive: true });
});

Deno.test("[trust-label-files] the {index: label} format is parsed in every layout; duplicates and broken dicts are refused", async () => {
  const { parseLabelsFile } = await import("../lib/zeroshot.ts");
  const { UsageError } = await import("../lib/errors.ts");
  const want = [{ index: 0, label: "tench" }, { index: 1, label: "goldfish" }, { index: 7, label: "cock" }];
  for (
    const text of [
      "{0: 'tench, Tinca tinca',\n 1: 'goldfish, Carassius auratus',\n 7: 'cock'\n}\n", // closing brace alone
      "{0: 'tench, Tinca tinca', 1: 'goldfish, Carassius auratus', 7: 'cock',}", // one line
      '{"0": "tench, Tinca tinca", "1": "goldfish", "7": "cock"}', // JSON
      '{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"], "7": ["n01514668", "cock"]}', // class index JSON
      "0: 'tench, Tinca tinca',\n1: 'goldfish',\n7: \"cock\",\n", // no braces
      "{\n  # a comment\n  0: 'tench',\n  1: 'goldfish',\n  7: 'cock',\n}",
    ]
  ) {
    assertEquals(parseLabelsFile(text), want, text);
  }
  assertEquals(parseLabelsFile("cat\ndog\n"), [{ index: 0, label: "cat" }, { index: 1, label: "dog" }]);
  for (
    const [text, re] of [
      ["{0: 'tench', 0: 'goldfish'}", /index 0 appears twice/],
      ["{0: 'tench', 1: goldfish}", /a quoted string was expected at line 1/],
      ["{0: 'tench',\n 1: 'goldfish'", /',' or '}' was expected at line 2/],
      ["{0: 'tench'} trailing", /text follows the closing/],
      ['{"a": "tench"}', /the key "a" is not an index/],
    ] as const
  ) {
    let err: unknown;
    try {
      parseLabelsFile(text, '--labels-file "x.txt"');
    } catch (e) {
      err = e;
    }
    assert(err instanceof UsageError, `${text}: ${err}`);
    assert(re.test(err.message) && err.message.startsWith('--labels-file "x.txt": '), err.message);
  }
});

Deno.test("[trust-symlinks] symlinked images and class folders are listed (a link loop ends, a broken link is reported); nothing-to-do exits 1", async () => {
  const { listImages } = await import("../lib/image/list.ts");
  const { listImageFolder } = await import("../lib/eval.ts");
  // models/fixtures/hostile/linked: photo-link.jpg -> a photo, more -> data/samples/photo, loop -> ., broken.jpg -> nowhere
  const skipped: string[] = [];
  const files = await listImages([`${FIX}/hostile/linked`], (p, why) => skipped.push(`${p.split("/").pop()}: ${why}`));
  assertEquals(files.length, 11, files.join("\n"));
  assert(files.some((f) => f.endsWith("linked/photo-link.jpg")) && files.some((f) => f.includes("linked/more/")));
  assert(skipped.some((s) => s.startsWith("broken.jpg: a broken symbolic link")), skipped.join("\n"));
  assert(skipped.some((s) => s.startsWith("loop: a link back to")), skipped.join("\n"));
  // An ImageFolder whose class folder is a symlink (models/fixtures/hostile/folder/n02128385 -> the photos).
  const { items, classes } = await listImageFolder(`${FIX}/hostile/folder`);
  assertEquals([items.length, classes.length], [10, 1]);
  const run = await runTaskCli("preprocess", [
    "models/fixtures/hostile/linked",
    "--for",
    "clip",
    "--out",
    "out/trust.npy",
  ]);
  assert(/skipped .*broken\.jpg: a broken symbolic link/.test(run.stderr), run.stderr);
  // An eval whose shard is empty has processed nothing: exit 1, one line.
  const ev = await runTaskCli("eval", [
    "--dataset",
    `f=models/fixtures/hostile/folder`,
    "--model",
    "resnet",
    "--resnet",
    "models/fixtures/resnet-tiny-dyn",
    "--shard",
    "10/11", // 10 images: shard 10 of 11 gets none
    "--out",
    "reports/trust-eval",
  ]);
  assertEquals(ev.code, 1, ev.stderr);
  assert(/Nothing to evaluate: f \(models\/fixtures\/hostile\/folder\)/.test(ev.stderr), ev.stderr);
  await Deno.remove("out/trust.npy").catch(() => {});
});

/** RFC 4180 rows: quoted cells with doubled quotes, commas and line breaks inside quotes. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") row.push(cell), cell = "";
    else if (c === "\n") row.push(cell), rows.push(row), row = [], cell = "";
    else cell += c;
  }
  return rows;
}

Deno.test("[trust-escaping] names cannot split CSV rows, start formulas, inject HTML into report.md, or send control bytes to the terminal", async () => {
  // eval: a dataset name with a comma, a quote and a formula start.
  const name = '@SUM(1,2)"x';
  const ev = await runTaskCli("eval", [
    "--dataset",
    `${name}=models/fixtures/hostile/folder`,
    "--model",
    "resnet",
    "--resnet",
    "models/fixtures/resnet-tiny-dyn",
    "--device",
    "wasm",
    "--out",
    "reports/trust-escape-eval",
  ]);
  assertEquals(ev.code, 0, ev.stderr);
  const rows = parseCsv(await Deno.readTextFile("reports/trust-escape-eval/metrics.csv"));
  assert(rows.length >= 2 && rows.every((r) => r.length === rows[0]!.length), JSON.stringify(rows));
  assertEquals(rows[1]![rows[0]!.indexOf("dataset")], `'${name}`);
  // compare: a file named like an HTML tag, skipped as undecodable, is listed escaped in report.md.
  const dir = await tempDir();
  await Deno.copyFile(`${FIX}/decode/baseline.jpg`, `${dir}/n02128385_leopard.jpg`);
  const evil = "<img src=x onerror=alert(1)>.jpg";
  await Deno.writeTextFile(`${dir}/${evil}`, "not an image");
  const cmp = await runTaskCli("compare", [
    ...TINY_MODELS,
    "--device",
    "wasm",
    "--out",
    "reports/trust-escape-compare",
    dir,
  ]);
  assertEquals(cmp.code, 0, cmp.stderr);
  const md = await Deno.readTextFile("reports/trust-escape-compare/report.md");
  assert(md.includes("&lt;img src=x onerror=alert(1)&gt;.jpg") && !md.includes("<img src=x"), md);
  const html = await Deno.readTextFile("reports/trust-escape-compare/report.html");
  assert(!html.includes("<img src=x") && /(&lt;|&#60;)img src=x onerror=alert\(1\)(&gt;|&#62;)\.jpg/.test(html));
  // A file name with an ESC sequence: the error names it with the sequence made visible.
  const esc = `${dir}/x\x1b[2Jy.jpg`;
  await Deno.writeTextFile(esc, "text");
  const pre = await runTaskCli("preprocess", [esc, "--for", "clip", "--out", "out/trust.npy"]);
  assertEquals(pre.code, 1);
  assert(!pre.stderr.includes("\x1b") && pre.stderr.includes("x\\x1b[2Jy.jpg"), JSON.stringify(pre.stderr));
  for (const d of ["reports/trust-escape-eval", "reports/trust-escape-compare", dir]) {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("[trust-eval-mix] a resumed or merged eval with other models, templates or subset is refused; stale and conflicting lines never count", async () => {
  const ds = await tempDir();
  await Deno.mkdir(`${ds}/n02128385`);
  const photos = [...Deno.readDirSync("data/samples/photo")].map((e) => e.name).sort().slice(0, 3);
  for (const p of photos) await Deno.copyFile(`data/samples/photo/${p}`, `${ds}/n02128385/${p}`);
  const base = (out: string, ...more: string[]) => [
    "--dataset",
    `d=${ds}`,
    "--device",
    "wasm",
    "--resnet",
    "models/fixtures/resnet-tiny-dyn",
    "--clip",
    "models/fixtures/clip-tiny",
    "--out",
    out,
    ...more,
  ];
  const A = "reports/trust-mix-a";
  const B = "reports/trust-mix-b";
  try {
    const first = await runTaskCli("eval", base(A, "--model", "resnet"));
    assertEquals(first.code, 0, first.stderr);
    for (
      const [more, field] of [
        [["--model", "clip"], /models: was/],
        [["--model", "resnet", "--subset", "none"], /subset: was "auto", now "none"/],
      ] as const
    ) {
      const again = await runTaskCli("eval", base(A, ...more));
      assertEquals(again.code, 1, again.stderr);
      assert(/holds results of a different run \(/.test(again.stderr) && field.test(again.stderr), again.stderr);
    }
    const clipA = await runTaskCli("eval", base(B, "--model", "clip", "--template", "a photo of a {}."));
    assertEquals(clipA.code, 0, clipA.stderr);
    const clipB = await runTaskCli("eval", base(B, "--model", "clip", "--template", "a sketch of a {}."));
    assertEquals(clipB.code, 1);
    assert(/templates: was \["a photo of a \{\}\."\], now \["a sketch of a \{\}\."\]/.test(clipB.stderr), clipB.stderr);
    // Merging runs of different settings is refused.
    const merge = await runTaskCli("eval", ["--merge", A, B, "--out", "reports/trust-mix-m"]);
    assertEquals(merge.code, 1);
    assert(
      /Cannot merge "reports\/trust-mix-b" with "reports\/trust-mix-a": models: was/.test(merge.stderr),
      merge.stderr,
    );
    // An image removed from the dataset no longer counts on resume.
    await Deno.remove(`${ds}/n02128385/${photos[0]}`);
    const resumed = await runTaskCli("eval", base(A, "--model", "resnet"));
    assertEquals(resumed.code, 0, resumed.stderr);
    const metrics = JSON.parse(await Deno.readTextFile(`${A}/metrics.json`));
    assertEquals(metrics.results[0].n, 2);
    // Two different lines for one image: the directory mixes runs.
    const jsonl = await Deno.readTextFile(`${A}/results.jsonl`);
    const line = JSON.parse(jsonl.split("\n")[1]!);
    line.top5.resnet = [...line.top5.resnet].reverse();
    await Deno.writeTextFile(`${A}/results.jsonl`, jsonl + JSON.stringify(line) + "\n");
    const conflict = await runTaskCli("eval", base(A, "--model", "resnet"));
    assertEquals(conflict.code, 1);
    assert(/two different results for .* in d; the directory mixes runs/.test(conflict.stderr), conflict.stderr);
  } finally {
    for (const d of [A, B, "reports/trust-mix-m", ds]) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
});

/** A ZIP of deflated entries, each optionally lying about its uncompressed size. */
async function makeZip(entries: { name: string; data: Uint8Array; declare?: number }[]): Promise<Uint8Array> {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const comp = new Uint8Array(
      await new Response(
        new Blob([e.data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("deflate-raw")),
      )
        .arrayBuffer(),
    );
    const name = new TextEncoder().encode(e.name);
    const local = new Uint8Array(30 + name.length + comp.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(8, 8, true);
    lv.setUint32(18, comp.length, true);
    lv.setUint32(22, e.declare ?? e.data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    local.set(comp, 30 + name.length);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(10, 8, true);
    cv.setUint32(20, comp.length, true);
    cv.setUint32(24, e.declare ?? e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const cdSize = centrals.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array(offset + cdSize + 22);
  let at = 0;
  for (const b of [...locals, ...centrals, eocd]) out.set(b, at), at += b.length;
  return out;
}

Deno.test("[trust-zip-bomb] an entry inflating past its declared size, or entries declaring too much in all, are refused without inflating", async () => {
  const { unzip } = await import("../lib/hub/zip.ts");
  const dir = await tempDir();
  const zeros = new Uint8Array(20 * 1024 * 1024); // 20 MB of zeros deflate to about 20 KB
  await Deno.writeFile(`${dir}/bomb.zip`, await makeZip([{ name: "m/model.onnx", data: zeros, declare: 1000 }]));
  await rejects(
    unzip(`${dir}/bomb.zip`, `${dir}/x`),
    /entry "m\/model\.onnx" inflates past its declared 1000 bytes; refusing \(zip bomb\?\)/,
  );
  const small = new Uint8Array(4096);
  await Deno.writeFile(`${dir}/many.zip`, await makeZip([{ name: "a", data: small }, { name: "b", data: small }]));
  await rejects(unzip(`${dir}/many.zip`, `${dir}/y`, 6000), /declare more than 6000 bytes uncompressed in all/);
  assertEquals((await unzip(`${dir}/many.zip`, `${dir}/z`)).length, 2);
  // A central directory pointing outside the archive is named, not an internal error.
  const broken = await makeZip([{ name: "a", data: small }]);
  new DataView(broken.buffer).setUint32(broken.length - 22 - (46 + 1) + 42, 1 << 30, true); // entry "a"'s local offset
  await Deno.writeFile(`${dir}/broken.zip`, broken);
  await rejects(unzip(`${dir}/broken.zip`, `${dir}/w`), /entry "a" points outside the archive/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("[trust-non-finite] a model whose outputs are NaN is never scored: exit 1 naming the model and the first image, wasm and webgpu; a zero image_std is refused on reading", async () => {
  const { OnnxGraph } = await import("../lib/onnx/build.ts");
  const { HAS_GPU } = await import("./_helpers.ts");
  // A "ResNet" with the right IO whose logits are all NaN: GlobalAveragePool -> Flatten -> MatMul by a NaN matrix.
  const g = new OnnxGraph("nan_resnet");
  g.input("pixel_values", "float32", ["batch", 3, 224, 224]);
  const w = g.init("w", [3, 1000], new Float32Array(3000).fill(Number.NaN));
  const f = g.op("Flatten", [g.op("GlobalAveragePool", ["pixel_values"])], { axis: 1 });
  g.op("MatMul", [f, w], {}, "logits");
  g.output("logits", "float32", ["batch", 1000]);
  const dir = await tempDir();
  await Deno.writeFile(`${dir}/nan.onnx`, g.toBytes());
  for (const device of HAS_GPU ? ["wasm", "webgpu"] : ["wasm"]) {
    const run = await runTaskCli("compare", [
      "--clip",
      "models/fixtures/clip-tiny",
      "--resnet",
      `${dir}/nan.onnx`,
      "--device",
      device,
      "--no-report",
      "data/samples/photo",
    ]);
    assertEquals(run.code, 1, run.stderr);
    assert(
      /Model ".*nan\.onnx" gave a non-finite output \(NaN or Inf\) for "data\/samples\/photo\/n01614925_bald_eagle\.jpg"; nothing was scored/
        .test(run.stderr),
      `${device}: ${run.stderr}`,
    );
  }
  // A preprocessor config whose std is 0 would divide by zero: refused when read.
  await Deno.mkdir(`${dir}/zero-std`);
  await Deno.copyFile(`${FIX}/resnet-tiny/model.onnx`, `${dir}/zero-std/model.onnx`);
  await Deno.writeTextFile(`${dir}/zero-std/preprocessor_config.json`, JSON.stringify({ image_std: [0.2, 0, 0.2] }));
  const bad = await runTaskCli("compare", [
    "--resnet",
    `${dir}/zero-std`,
    "--device",
    "wasm",
    "--no-report",
    "data/samples/photo",
  ]);
  assertEquals(bad.code, 1);
  assert(/preprocessor_config\.json": image_std must be three positive numbers/.test(bad.stderr), bad.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("[trust-decoder-trap] a PNG that makes the wasm decoder trap gets a reason a user can read", async () => {
  const { decodeImage } = await import("../lib/image/decode.ts");
  // Valid chunks and CRCs but an IDAT whose zlib stream is garbage.
  const png = await Deno.readFile(`${FIX}/decode/rgb8.png`);
  const view = new DataView(png.buffer);
  let at = 8;
  let idat = -1;
  while (at < png.length) {
    const len = view.getUint32(at);
    if (new TextDecoder().decode(png.subarray(at + 4, at + 8)) === "IDAT") {
      idat = at;
      break;
    }
    at += 12 + len;
  }
  assert(idat > 0);
  const len = view.getUint32(idat);
  const bad = png.slice();
  for (let i = 0; i < len; i++) bad[idat + 8 + i] = (i * 131 + 7) & 0xff;
  const { crc32 } = await import("../lib/image/png.ts");
  new DataView(bad.buffer).setUint32(idat + 8 + len, crc32(bad.subarray(idat + 4, idat + 8 + len)));
  await rejects(decodeImage(bad, "bad.png"), (e: Error) => {
    assert(
      e instanceof ClipcmpError && /^Cannot decode image "bad\.png": corrupt or unsupported PNG \(/.test(e.message),
      e.message,
    );
    assert(!/unreachable|unwrap_throw/.test(e.message), e.message);
    return true;
  });
});

Deno.test("[trust-zeroshot-stream] zeroshot streams images in chunks of 64: 93 images give 93 results, the same as one at a time", async () => {
  const args = [
    "--clip",
    "models/fixtures/clip-tiny",
    "--device",
    "wasm",
    "--labels",
    "cat,dog,leopard,goldfish",
    "--json",
  ];
  const all = await runTaskCli("zeroshot", [...args, "data/renditions/art"]);
  assertEquals(all.code, 0, all.stderr);
  const doc = JSON.parse(all.stdout);
  assertEquals(doc.results.length, 93);
  for (const i of [0, 63, 64, 92]) {
    const one = await runTaskCli("zeroshot", [...args, doc.results[i].path]);
    assertEquals(one.code, 0, one.stderr);
    const r = JSON.parse(one.stdout).results[0];
    assertEquals(r.path, doc.results[i].path);
    assertEquals(
      r.top_k.map((t: { index: number }) => t.index),
      doc.results[i].top_k.map((t: { index: number }) => t.index),
    );
    r.top_k.forEach((t: { score: number }, s: number) =>
      assert(Math.abs(t.score - doc.results[i].top_k[s].score) < 1e-6)
    );
  }
});

Deno.test("[trust-kill-download] zeroshot killed mid-download and run again gives the result of an uninterrupted run", async () => {
  const { startHub } = await import("./_hub_server.ts");
  const { killTaskWhen } = await import("./_helpers.ts");
  const w = `${FIX}/weights/clip-rn-tiny`;
  const hub = startHub({
    "timm/resnet50_clip.openai/open_clip_model.safetensors": await Deno.readFile(`${w}/open_clip_model.safetensors`),
    "timm/resnet50_clip.openai/open_clip_config.json": await Deno.readFile(`${w}/open_clip_config.json`),
    "timm/resnet50_clip.openai/tokenizer.json": await Deno.readFile(`${w}/tokenizer.json`),
  });
  const homes = [await tempDir(), await tempDir()];
  const args = [
    "--hub-url",
    hub.endpoint,
    "--device",
    "wasm",
    "--labels",
    "cat,dog,leopard",
    "--json",
    "data/samples/photo",
  ];
  try {
    hub.knobs.chunkDelayMs = 15; // about 7 s for the 7.9 MB safetensors
    const progress = /open_clip_model\.safetensors\s+[1-9]\d% /;
    const seen = await killTaskWhen("zeroshot", args, { HOME: homes[0]! }, progress);
    assert(progress.test(seen), seen);
    hub.knobs.chunkDelayMs = 0;
    const again = await runTaskCli("zeroshot", args, { HOME: homes[0]! });
    assertEquals(again.code, 0, again.stderr);
    assert(hub.log.some((l) => /bytes=\d+-/.test(l)), "the second run resumed with a Range request");
    const fresh = await runTaskCli("zeroshot", args, { HOME: homes[1]! });
    assertEquals(fresh.code, 0, fresh.stderr);
    assertEquals(JSON.parse(again.stdout).results, JSON.parse(fresh.stdout).results);
  } finally {
    await hub.close();
    for (const h of homes) await Deno.remove(h, { recursive: true });
  }
});

Deno.test("[trust-kill-head] zeroshot killed while building the zero-shot head and run again gives the uninterrupted result", async () => {
  const { killTaskWhen } = await import("./_helpers.ts");
  const homes = [await tempDir(), await tempDir()];
  const args = [
    "--clip",
    "models/fixtures/clip-tiny",
    "--device",
    "wasm",
    "--imagenet",
    "--templates",
    "simple7",
    "--json",
    "data/samples/photo",
  ];
  const env = (home: string) => ({ HOME: home, XDG_CACHE_HOME: "", CLIPCMP_CACHE_DIR: "" });
  try {
    const building = /text features: \d+\/1000 classes/;
    const seen = await killTaskWhen("zeroshot", args, env(homes[0]!), building);
    assert(building.test(seen), seen);
    const again = await runTaskCli("zeroshot", args, env(homes[0]!));
    assertEquals(again.code, 0, again.stderr);
    assert(!/cache hit/.test(again.stderr), "a killed head build left nothing that counts as a cache hit");
    const fresh = await runTaskCli("zeroshot", args, env(homes[1]!));
    assertEquals(JSON.parse(again.stdout).results, JSON.parse(fresh.stdout).results);
  } finally {
    for (const h of homes) await Deno.remove(h, { recursive: true });
  }
});

for (const point of ["fp16-between-towers", "fp16-copied-visual"]) {
  Deno.test(`[trust-kill-fp16] zeroshot --dtype fp16 killed during the conversion (${point}) and run again gives the uninterrupted result`, async () => {
    const { killTaskWhen } = await import("./_helpers.ts");
    const homes = [await tempDir(), await tempDir()];
    const args = ["--clip", "models/fixtures/clip-tiny", "--device", "wasm", "--dtype", "fp16", "--json"];
    args.push("--labels", "cat,dog,bald eagle", "data/samples/photo");
    const env = (home: string) => ({ HOME: home, XDG_CACHE_HOME: "", CLIPCMP_CACHE_DIR: "" });
    try {
      const seen = await killTaskWhen(
        "zeroshot",
        args,
        { ...env(homes[0]!), CLIPCMP_FAULTS: `stall-at=${point}` },
        /stalled at/,
      );
      assert(seen.includes(`stalled at ${point}`), seen);
      const again = await runTaskCli("zeroshot", args, env(homes[0]!));
      assertEquals(again.code, 0, again.stderr);
      const fresh = await runTaskCli("zeroshot", args, env(homes[1]!));
      assertEquals(fresh.code, 0, fresh.stderr);
      assertEquals(JSON.parse(again.stdout).results, JSON.parse(fresh.stdout).results);
    } finally {
      for (const h of homes) await Deno.remove(h, { recursive: true });
    }
  });
}

Deno.test("[trust-kill-report] compare killed while writing its report leaves the previous set or none, and a rerun gives the uninterrupted report", async () => {
  const { killTaskWhen } = await import("./_helpers.ts");
  const d = await tempDir();
  const args = (out: string) => [
    ...TINY_MODELS,
    "--device",
    "wasm",
    "--dataset",
    "p=models/fixtures/parity",
    "--out",
    out,
  ];
  const env = { HOME: `${d}/home`, XDG_CACHE_HOME: "", CLIPCMP_CACHE_DIR: "" };
  try {
    const seen = await killTaskWhen("compare", args(`${d}/killed`), {
      ...env,
      CLIPCMP_FAULTS: "stall-at=write-set-before-rename",
    }, /stalled at/);
    assert(seen.includes("stalled at write-set-before-rename"), seen);
    const left = [...Deno.readDirSync(`${d}/killed`)].map((e) => e.name);
    assert(!left.some((n) => /^(report\.(md|html)|results\.(json|csv))$/.test(n)), `a partial set: ${left}`);
    assert(left.some((n) => /\.tmp-\d+-/.test(n)), `the kill came after the temp files: ${left}`);
    const again = await runTaskCli("compare", args(`${d}/killed`), env);
    assertEquals(again.code, 0, again.stderr);
    const fresh = await runTaskCli("compare", args(`${d}/fresh`), env);
    assertEquals(fresh.code, 0, fresh.stderr);
    const after = [...Deno.readDirSync(`${d}/killed`)].map((e) => e.name).sort();
    assertEquals(after, [...Deno.readDirSync(`${d}/fresh`)].map((e) => e.name).sort(), "no temp files left");
    const results = (dir: string) => JSON.parse(Deno.readTextFileSync(`${dir}/results.json`)).comparison.results;
    assert(results(`${d}/fresh`).length > 0, "the report holds results");
    assertEquals(results(`${d}/killed`), results(`${d}/fresh`));
    const csv = (dir: string) => Deno.readTextFileSync(`${dir}/results.csv`);
    assertEquals(csv(`${d}/killed`), csv(`${d}/fresh`));
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("[trust-params-non-model] params on a file that is not a model says so, naming it, and never counts 0", async () => {
  const d = await tempDir();
  try {
    const cases: [string, Uint8Array][] = [
      ["empty.onnx", new Uint8Array()],
      ["text.onnx", new TextEncoder().encode("just some text, not protobuf\n")],
      ["random.onnx", Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)],
      ["tag-only.onnx", Uint8Array.of(0x08, 0x07)],
    ];
    for (const [name, bytes] of cases) {
      await Deno.writeFile(`${d}/${name}`, bytes);
      const run = await runTaskCli("params", ["--resnet", `${d}/${name}`]);
      assertEquals(run.code, 1, `${name}: ${run.stdout}${run.stderr}`);
      assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert(run.stderr.includes(name) && !/internal error/.test(run.stderr), run.stderr);
      assert(!/\b0 parameters|\b0\.00 ?M/.test(run.stdout), run.stdout);
    }
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("[trust-unreachable-hub] a hub that cannot be reached names every way on: mirror, local models, the fixtures, --offline", async () => {
  const home = await tempDir();
  try {
    // A loopback port nobody listens on: the connection is refused at once.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const run = await runTaskCli("zeroshot", [
      "--labels",
      "cat,dog",
      "--hub-url",
      `http://127.0.0.1:${port}`,
      "data/samples/photo",
    ], {
      HOME: home,
    });
    assertEquals(run.code, 1, run.stderr);
    const line = run.stderr.trim().split("\n").filter((l) => l.startsWith("clipcmp ")).join("\n");
    for (
      const want of [
        "--hub-url",
        "HF_ENDPOINT",
        "--clip DIR",
        "--resnet FILE",
        "models/fixtures/weights/clip-rn-tiny",
        "--offline",
      ]
    ) {
      assert(line.includes(want), `missing ${want}: ${line}`);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
