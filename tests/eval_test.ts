import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { SUBSETS } from "../lib/eval.ts";
import { classByWnid } from "../lib/data/imagenet.ts";

const SUBSET_INDEX = (f: string) => classByWnid(f.split("/").pop()!.slice(0, 9))!.index;
import { HAS_GPU, killTaskWhen, ROOT, runTaskCli, tempDir } from "./_helpers.ts";
import { chromium, layout } from "./_browser.ts";

// An ImageFolder by wnid: the 10 demo photos and 30 art renditions.
const DS = await tempDir();
const files = [
  ...[...Deno.readDirSync(`${ROOT}/data/samples/photo`)].map((e) => `data/samples/photo/${e.name}`),
  ...[...Deno.readDirSync(`${ROOT}/data/renditions/art`)].map((e) => `data/renditions/art/${e.name}`).sort().slice(
    0,
    30,
  ),
];
for (const f of files) {
  const name = f.split("/").pop()!;
  Deno.mkdirSync(`${DS}/${name.slice(0, 9)}`, { recursive: true });
  Deno.copyFileSync(`${ROOT}/${f}`, `${DS}/${name.slice(0, 9)}/${name}`);
}
const MODELS = [
  "--clip",
  "models/fixtures/clip-tiny-dyn",
  "--resnet",
  "models/fixtures/resnet-tiny-dyn",
  "--device",
  "wasm",
];
const outDir = (tag: string) => `reports/test-eval-${tag}-${crypto.randomUUID().slice(0, 6)}`;
const made: string[] = [];

interface Line {
  dataset: string;
  path: string;
  true: number;
  top5: Record<string, number[]>;
}
const lines = (out: string): Line[] =>
  Deno.readTextFileSync(`${ROOT}/${out}/results.jsonl`).trim().split("\n").map((l) => JSON.parse(l));
const metrics = (out: string) => JSON.parse(Deno.readTextFileSync(`${ROOT}/${out}/metrics.json`)).results;

async function evalRun(tag: string, extra: string[]): Promise<string> {
  const out = outDir(tag);
  made.push(out);
  const run = await runTaskCli("eval", ["--dataset", `mix=${DS}`, ...MODELS, "--out", out, "--batch", "8", ...extra]);
  assertEquals(run.code, 0, run.stderr);
  return out;
}

/** Metrics computed here from the JSONL, independently of lib/eval.ts. */
function independent(ls: Line[], model: string) {
  const n = ls.length;
  const acc1 = ls.filter((l) => l.top5[model]![0] === l.true).length / n;
  const acc5 = ls.filter((l) => l.top5[model]!.includes(l.true)).length / n;
  const byClass = new Map<number, boolean[]>();
  for (const l of ls) byClass.set(l.true, [...(byClass.get(l.true) ?? []), l.top5[model]![0] === l.true]);
  const recall = [...byClass.values()].map((h) => h.filter(Boolean).length / h.length);
  return { n, acc1, acc5, mean_per_class_recall: recall.reduce((a, b) => a + b, 0) / recall.length };
}

Deno.test("eval scores 200-way with the ImageNet-R mask, and its metrics match an independent count", async () => {
  const out = await evalRun("r", ["--subset", "imagenet-r"]);
  const ls = lines(out);
  const r = new Set(SUBSETS["imagenet-r"]);
  const inR = files.filter((f) => r.has(SUBSET_INDEX(f))).length;
  assertEquals(ls.length, inR); // images of classes outside the 200 are left out, the rest all scored
  for (const l of ls) for (const t of Object.values(l.top5)) assert(t.every((i) => r.has(i)), `${l.path}: ${t}`);
  for (const m of metrics(out)) {
    const want = independent(ls, m.model);
    assertEquals(m.n, want.n);
    assert(Math.abs(m.metrics.acc1 - want.acc1) < 1e-12 && Math.abs(m.metrics.acc5 - want.acc5) < 1e-12);
    assert(Math.abs(m.metrics.mean_per_class_recall - want.mean_per_class_recall) < 1e-12);
  }
  const csv = Deno.readTextFileSync(`${ROOT}/${out}/metrics.csv`).split("\n")[0];
  assertEquals(
    csv,
    "model,dataset,n,top1,top1_err,top5,top5_err,top1_diff,top5_diff,mean_per_class_recall,img_size,interpolation",
  );
});

Deno.test("eval --subset none scores 1000-way", async () => {
  const out = await evalRun("all", ["--subset", "none", "--model", "resnet", "--limit", "12"]);
  const ls = lines(out);
  assertEquals(ls.length, 12);
  const r = new Set(SUBSETS["imagenet-r"]);
  assert(ls.some((l) => l.top5.resnet!.some((i) => !r.has(i))), "1000-way predictions should leave the R subset");
  assertEquals(Object.keys(ls[0]!.top5), ["resnet"]);
});

Deno.test("eval killed with SIGKILL resumes with the same --out: no duplicates, nothing missing, the same metrics", async () => {
  const full = await evalRun("full", ["--subset", "none"]);
  const out = outDir("killed");
  made.push(out);
  await killTaskWhen(
    "eval",
    ["--dataset", `mix=${DS}`, ...MODELS, "--out", out, "--batch", "4", "--subset", "none"],
    {},
    /mix: 8\/\d+ images/,
  );
  const partial = lines(out).length;
  assert(partial >= 8 && partial < files.length, `killed after ${partial} lines`);
  const run = await runTaskCli("eval", [
    "--dataset",
    `mix=${DS}`,
    ...MODELS,
    "--out",
    out,
    "--batch",
    "4",
    "--subset",
    "none",
  ]);
  assertEquals(run.code, 0, run.stderr);
  assert(new RegExp(`${partial} already done`).test(run.stderr), run.stderr);
  const ls = lines(out);
  assertEquals(ls.length, files.length);
  assertEquals(new Set(ls.map((l) => l.path)).size, files.length);
  assertEquals(metrics(out), metrics(full));
});

Deno.test("eval --shard 0/2 and 1/2, merged, equal the unsharded run", async () => {
  const full = await evalRun("whole", ["--subset", "none"]);
  const a = await evalRun("s0", ["--subset", "none", "--shard", "0/2"]);
  const b = await evalRun("s1", ["--subset", "none", "--shard", "1/2"]);
  assertEquals(lines(a).length + lines(b).length, files.length);
  const merged = outDir("merged");
  made.push(merged);
  const run = await runTaskCli("eval", ["--merge", a, b, "--out", merged]);
  assertEquals(run.code, 0, run.stderr);
  assertEquals(metrics(merged), metrics(full));
  // The merge writes the report too, with the same paired statistics as the unsharded run.
  const paired = (out: string) => {
    const md = Deno.readTextFileSync(`${ROOT}/${out}/report.md`);
    // The figures, without the pair's names (a merge does not know the models' file names).
    return md.slice(md.indexOf("## Paired comparison"), md.indexOf("## Where they differ")).split("\n")
      .filter((l) => l.startsWith("| ")).map((l) => l.split(" | ").filter((_, i) => i !== 1).join(" | "));
  };
  assert(paired(full).length > 2, "a paired table");
  assertEquals(paired(merged), paired(full));
});

// Two datasets named like the published shifts' in-distribution and sketch sets: the photos and the 27 sketches.
const DS2 = await tempDir();
for (const [name, dir] of [["photo", "data/samples/photo"], ["sketch", "data/renditions/sketch"]] as const) {
  for (const e of Deno.readDirSync(`${ROOT}/${dir}`)) {
    Deno.mkdirSync(`${DS2}/${name}/${e.name.slice(0, 9)}`, { recursive: true });
    Deno.copyFileSync(`${ROOT}/${dir}/${e.name}`, `${DS2}/${name}/${e.name.slice(0, 9)}/${e.name}`);
  }
}

Deno.test("eval writes the HTML report: paired tests from the results, effective robustness against ImageNet-Sketch", async () => {
  const out = outDir("report");
  made.push(out);
  const run = await runTaskCli("eval", [
    "--dataset",
    `photo=${DS2}/photo`,
    "--dataset",
    `sketch=${DS2}/sketch`,
    ...MODELS,
    "--subset",
    "none",
    "--out",
    out,
  ]);
  assertEquals(run.code, 0, run.stderr);
  const html = Deno.readTextFileSync(`${ROOT}/${out}/report.html`);
  for (
    const id of ["summary", "paired", "effective-robustness", "confusions", "galleries", "per-class", "provenance"]
  ) {
    assert(html.includes(`id="${id}"`), id);
  }
  assert(html.includes("sketch against photo") && html.includes("ImageNet-Sketch"), "sketch panel with its baseline");
  assert(!/(src|href)=["']?(https?:)?\/\//i.test(html), "network reference in report.html");
  // McNemar's discordant counts, counted here from results.jsonl.
  const md = Deno.readTextFileSync(`${ROOT}/${out}/report.md`);
  for (const ds of ["photo", "sketch"]) {
    const ls = lines(out).filter((l) => l.dataset === ds);
    const right = (l: Line, m: string) => l.top5[m]![0] === l.true;
    const b = ls.filter((l) => right(l, "clip") && !right(l, "resnet")).length;
    const c = ls.filter((l) => !right(l, "clip") && right(l, "resnet")).length;
    assert(
      new RegExp(`^\\| ${ds} \\| [^|]+ \\| ${ls.length} \\| ${b} \\| ${c} \\| `, "m").test(md),
      `${ds}: b=${b} c=${c}\n${md}`,
    );
  }
  if (chromium) {
    for (const width of [1280, 800]) {
      const r = await layout(`${ROOT}/${out}`, html, `layout-${width}.html`, width);
      assertEquals([r.bad, r.fetched], [[], []], `at ${width}px: ${JSON.stringify(r)}`);
    }
  }
});

Deno.test("eval with two CLIP models and a ResNet scores each like it is alone, under its own name", async () => {
  const out = outDir("three");
  const solo = outDir("solo");
  made.push(out, solo);
  const ds = ["--dataset", `photo=${DS2}/photo`, "--dataset", `sketch=${DS2}/sketch`, "--subset", "none"];
  const run = await runTaskCli("eval", [
    ...ds,
    "--clip",
    "models/fixtures/clip-tiny-dyn",
    "--clip",
    "models/fixtures/clip-tiny",
    "--resnet",
    "models/fixtures/resnet-tiny-dyn",
    "--device",
    "wasm",
    "--out",
    out,
  ]);
  assertEquals(run.code, 0, run.stderr);
  const alone = await runTaskCli("eval", [
    ...ds,
    "--clip",
    "models/fixtures/clip-tiny",
    "--device",
    "wasm",
    "--out",
    solo,
  ]);
  assertEquals(alone.code, 0, alone.stderr);
  const header = JSON.parse(Deno.readTextFileSync(`${ROOT}/${out}/run.json`));
  assertEquals(header.models.more.map((m: { key: string }) => m.key), ["clip_2"]);
  const byKey = (o: string, model: string) =>
    metrics(o).filter((m: { model: string }) => m.model === model).map((
      m: { dataset: string; metrics: unknown },
    ) => [m.dataset, m.metrics]);
  assertEquals(byKey(out, "clip_2"), byKey(solo, "clip"));
  // Per image too: the second CLIP's top-5 are the lone run's.
  const top = (o: string, model: string) =>
    Object.fromEntries(lines(o).map((l) => [`${l.dataset}/${l.path}`, l.top5[model]]));
  assertEquals(top(out, "clip_2"), top(solo, "clip"));
  const md = Deno.readTextFileSync(`${ROOT}/${out}/report.md`);
  for (const n of ["clip-tiny-dyn zero-shot", "clip-tiny zero-shot", "resnet-tiny-dyn"]) {
    for (const h of ["## Accuracy per dataset", "## Paired comparison", "## Effective robustness", "## Per class"]) {
      const sec = md.slice(md.indexOf(h), md.indexOf("\n## ", md.indexOf(h) + 3));
      assert(sec.includes(n), `${h} lacks ${n}`);
    }
  }
});

Deno.test("eval over a class-name ImageFolder: CLIP on every class by name, the ResNet on the classes that map", async () => {
  // Folders named by class, as CLIP_benchmark reads them: one a wnid, one mapped by --class-map, one outside ImageNet.
  const root = await tempDir();
  const photos = [...Deno.readDirSync(`${ROOT}/data/samples/photo`)].map((e) => e.name).sort();
  const folders: Record<string, string[]> = {
    n01614925: photos.slice(0, 2),
    "common_iguana": photos.slice(2, 5),
    "my_red_thing": photos.slice(5, 9),
  };
  for (const [f, names] of Object.entries(folders)) {
    Deno.mkdirSync(`${root}/ds/${f}`, { recursive: true });
    for (const n of names) Deno.copyFileSync(`${ROOT}/data/samples/photo/${n}`, `${root}/ds/${f}/${n}`);
  }
  Deno.writeTextFileSync(`${root}/map.csv`, "# folder, wnid\ncommon_iguana, n01677366\n");
  const out = outDir("named");
  made.push(out);
  try {
    const run = await runTaskCli("eval", [
      "--dataset",
      `things=${root}/ds`,
      "--class-map",
      `${root}/map.csv`,
      ...MODELS,
      "--out",
      out,
    ]);
    assertEquals(run.code, 0, run.stderr);
    const ls = lines(out);
    assertEquals(ls.length, 9);
    const eagle = 22, iguana = 39, other = 1000; // other: the first class outside ImageNet
    assertEquals([...new Set(ls.map((l) => l.true))].sort((a, b) => a - b), [eagle, iguana, other]);
    for (const l of ls) {
      // CLIP ranks the dataset's three classes; the ResNet the two in ImageNet, and only on their images.
      assert(l.top5.clip!.every((i) => [eagle, iguana, other].includes(i)) && l.top5.clip!.length === 3);
      if (l.true === other) assertEquals(l.top5.resnet, undefined);
      else {assert(
          l.top5.resnet!.length === 2 && l.top5.resnet!.every((i) => [eagle, iguana].includes(i)),
          `${l.top5.resnet}`,
        );}
    }
    const header = JSON.parse(Deno.readTextFileSync(`${ROOT}/${out}/run.json`));
    assertEquals(header.classes.things, { "22": "bald eagle", "39": "common iguana", "1000": "my red thing" });
    const m = metrics(out);
    assertEquals(m.map((x: { model: string; n: number }) => [x.model, x.n]), [["clip", 9], ["resnet", 5]]);
    const want = independent(ls.filter((l) => l.top5.resnet), "resnet");
    const got = m.find((x: { model: string }) => x.model === "resnet").metrics;
    assert(
      Math.abs(got.acc1 - want.acc1) < 1e-12 &&
        Math.abs(got.mean_per_class_recall - want.mean_per_class_recall) < 1e-12,
    );
    const md = Deno.readTextFileSync(`${ROOT}/${out}/report.md`);
    assert(md.includes("## Classes the ResNet could score"), md);
    assert(/\*\*things\*\*: 2 of 3 classes scored \(.*\); not in ImageNet: my red thing\./.test(md), md);
    assert(/\| things \| [^|]+ \| 5 \| /.test(md), "paired on the 5 images both scored");
    // A bad map is one line naming the file.
    Deno.writeTextFileSync(`${root}/bad.csv`, "common_iguana, n99999999\n");
    const bad = await runTaskCli("eval", [
      "--dataset",
      `things=${root}/ds`,
      "--class-map",
      `${root}/bad.csv`,
      ...MODELS,
    ]);
    assertEquals(bad.code, 1, bad.stderr);
    assert(
      /--class-map ".*bad\.csv" line 1: "n99999999" is neither an ImageNet wnid nor an index 0-999/.test(bad.stderr),
      bad.stderr,
    );
    assert(!/\n\s+at /.test(bad.stderr), bad.stderr);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("eval usage errors are one line with exit 2", async () => {
  for (
    const [args, pattern] of [
      [[], /give at least one --dataset NAME=DIR/],
      [["--dataset", "x"], /--dataset must be NAME=DIR/],
      [["--dataset", `a=${DS}`, "--shard", "2/2"], /--shard must be i\/n with 0 <= i < n/],
      [["--dataset", `a=${DS}`, "--reference", "b"], /--reference "b" is not one of the --dataset names/],
      [["--merge"], /--merge needs the shard directories/],
    ] as [string[], RegExp][]
  ) {
    const run = await runTaskCli("eval", args);
    assertEquals(run.code, 2, run.stderr);
    assert(pattern.test(run.stderr), run.stderr);
  }
});

Deno.test("eval --dtype fp16 runs after the self-test, records fp16 in run.json and metrics.json, and a resume in fp32 is refused", async () => {
  const out = await evalRun("fp16", ["--subset", "none", "--limit", "6", "--dtype", "fp16"]);
  const run = JSON.parse(Deno.readTextFileSync(`${ROOT}/${out}/run.json`));
  assertEquals(run.dtype, "fp16");
  const doc = JSON.parse(Deno.readTextFileSync(`${ROOT}/${out}/metrics.json`));
  assertEquals(doc.provenance.run.dtype, "fp16");
  assertEquals(doc.provenance.device.ep, "wasm");
  // The fp16 models are other files (other sha256s) than the fp32 ones.
  const fp32 = await evalRun("fp32-ref", ["--subset", "none", "--limit", "6"]);
  const run32 = JSON.parse(Deno.readTextFileSync(`${ROOT}/${fp32}/run.json`));
  assert(run32.models.resnet !== run.models.resnet, "fp16 ResNet has its own hash");
  const again = await runTaskCli("eval", [
    "--dataset",
    `mix=${DS}`,
    ...MODELS,
    "--out",
    out,
    "--subset",
    "none",
    "--limit",
    "6",
  ]);
  assertEquals(again.code, 1, again.stderr);
  assert(/holds results of a different run \((models|dtype)/.test(again.stderr), again.stderr);
});

Deno.test({
  name:
    "eval --engine wgsl records the engine in run.json, gives the same top-5 as ORT, and a resume on the other engine is refused",
  ignore: !HAS_GPU,
  async fn() {
    // The shared MODELS run on wasm; these on webgpu (llvmpipe in CI).
    const gpuModels = MODELS.map((x) => (x === "wasm" ? "webgpu" : x));
    const args = ["--subset", "none", "--limit", "6", "--batch", "8"];
    const run = async (tag: string, extra: string[]) => {
      const dir = outDir(tag);
      made.push(dir);
      const r = await runTaskCli("eval", ["--dataset", `mix=${DS}`, ...gpuModels, "--out", dir, ...args, ...extra]);
      assertEquals(r.code, 0, r.stderr);
      return dir;
    };
    const out = await run("wgsl", ["--engine", "wgsl"]);
    assertEquals(JSON.parse(Deno.readTextFileSync(`${ROOT}/${out}/run.json`)).engine, "wgsl");
    const ort = await run("ort", []);
    assertEquals(JSON.parse(Deno.readTextFileSync(`${ROOT}/${ort}/run.json`)).engine, undefined);
    const lines = (dir: string) =>
      Deno.readTextFileSync(`${ROOT}/${dir}/results.jsonl`).trim().split("\n").map((l) => {
        const x = JSON.parse(l);
        return [x.path, x.top5];
      }).sort();
    assertEquals(lines(out), lines(ort));
    // Either way round, a resume on the other engine would mix results of two runs.
    for (const [dir, engine] of [[out, "ort"], [ort, "wgsl"]] as const) {
      const again = await runTaskCli("eval", [
        "--dataset",
        `mix=${DS}`,
        ...gpuModels,
        "--out",
        dir,
        ...args,
        "--engine",
        engine,
      ]);
      assertEquals(again.code, 1, again.stderr);
      assert(/holds results of a different run \(engine: /.test(again.stderr), again.stderr);
    }
  },
});

Deno.test("eval interrupted by Ctrl-C keeps its finished results, says how to continue, and a rerun gives the uninterrupted metrics", async () => {
  const { signalTaskWhen } = await import("./_helpers.ts");
  const full = await evalRun("int-full", ["--subset", "none"]);
  const out = outDir("interrupted");
  made.push(out);
  const args = ["--dataset", `mix=${DS}`, ...MODELS, "--out", out, "--batch", "4", "--subset", "none"];
  const run = await signalTaskWhen("eval", args, {}, /mix: 8\/\d+ images/, "SIGINT");
  assertEquals(run.code, 130, run.stderr);
  assert(
    /interrupted; \d+ result\(s\) are kept in .*results\.jsonl: run the same command again/.test(run.stderr),
    run.stderr,
  );
  const kept = lines(out).length;
  assert(kept >= 8 && kept < files.length, `kept ${kept}`);
  const again = await runTaskCli("eval", args);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(metrics(out), metrics(full));
});

Deno.test("cleanup: remove the eval test outputs", async () => {
  for (const d of made) await Deno.remove(`${ROOT}/${d}`, { recursive: true }).catch(() => {});
  await Deno.remove(DS, { recursive: true });
  await Deno.remove(DS2, { recursive: true });
  assert(!(await Deno.stat(DS).then(() => true, () => false)));
});
