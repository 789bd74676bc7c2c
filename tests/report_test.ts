import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { accuracy, type EvalRecord, likeForLike, perClass, summarizeDomains, wilson } from "../lib/report/metrics.ts";
import { imagenetClasses } from "../lib/data/imagenet.ts";
import type { CompareDocument } from "../lib/compare.ts";
import { ROOT, runTaskCli } from "./_helpers.ts";
import { schemaValidator } from "./_schema.ts";
import { chromium, headless, layout } from "./_browser.ts";

const validate = await schemaValidator("compare");
const wnidOf = (i: number) => imagenetClasses()[i]!.wnid;
const rec = (domain: string, t: number, clip: number[], resnet: number[]): EvalRecord => ({
  domain,
  true: { index: t, wnid: wnidOf(t) },
  preds: { clip: clip.map((index) => ({ index })), resnet: resnet.map((index) => ({ index })) },
});

// Known predictions: leopard 288, tiger 292, bald eagle 22, scorpion 71.
const RECORDS: EvalRecord[] = [
  rec("photo", 288, [288, 292], [292, 288]),
  rec("photo", 22, [22, 71], [22, 288]),
  rec("photo", 71, [288, 71], [71, 22]),
  rec("sketch", 288, [292, 288], [22, 71]),
  rec("sketch", 71, [71, 22], [288, 292]),
];

Deno.test("accuracy() computes top-1, top-5, Wilson intervals, per-class recall and mistake severity", () => {
  const photo = RECORDS.filter((r) => r.domain === "photo");
  const clip = accuracy(photo, "clip", wnidOf);
  assertEquals([clip.n, clip.top1, clip.top5], [3, 2 / 3, 1]);
  assertEquals(clip.top1_ci, wilson(2, 3));
  assertEquals(clip.mean_per_class_recall, 2 / 3);
  // The one CLIP mistake: scorpion predicted as leopard; they share "animal" 4 edges up from scorpion
  // (scorpion → arachnid → arthropod → invertebrate → animal).
  assertEquals(clip.mistake_severity, 4);
  const resnet = accuracy(photo, "resnet", wnidOf);
  assertEquals([resnet.top1, resnet.top5], [2 / 3, 1]);
  assertEquals(resnet.mistake_severity, 1); // leopard predicted as tiger: both big cats
});

Deno.test("summarizeDomains() gives CLIP minus ResNet and flags small counts as inconclusive", () => {
  const d = summarizeDomains(RECORDS, ["clip", "resnet"], wnidOf);
  assertEquals(d.map((x) => [x.domain, x.n, x.classes]), [["photo", 3, 3], ["sketch", 2, 2]]);
  assertEquals(d[1]!.clip_minus_resnet, { top1: 0.5, top5: 1 });
  assert(d.every((x) => x.inconclusive));
});

Deno.test("summarizeDomains() pairs CLIP and the ResNet: McNemar on the discordant images, a seeded bootstrap", () => {
  // 40 photos: 12 only CLIP right, 3 only the ResNet right, 20 both, 5 neither.
  const recs: EvalRecord[] = [];
  const push = (k: number, clipRight: boolean, resnetRight: boolean) => {
    for (let i = 0; i < k; i++) recs.push(rec("photo", 288, [clipRight ? 288 : 292], [resnetRight ? 288 : 22]));
  };
  push(12, true, false);
  push(3, false, true);
  push(20, true, true);
  push(5, false, false);
  const [d] = summarizeDomains(recs, ["clip", "resnet"], wnidOf);
  const pr = d!.paired!;
  assertEquals([pr.mcnemar.b, pr.mcnemar.c], [12, 3]);
  // Exact two-sided: 2 * sum_{i<=3} C(15, i) / 2^15 = 2 * (1 + 15 + 105 + 455) / 32768.
  assert(Math.abs(pr.mcnemar.p - (2 * 576) / 32768) < 1e-12, String(pr.mcnemar.p));
  assert(Math.abs(pr.bootstrap.difference - 9 / 40) < 1e-12);
  assert(pr.bootstrap.ci[0] > 0 && pr.bootstrap.ci[1] < 0.5 && pr.bootstrap.ci[0] < 9 / 40);
  assertEquals(summarizeDomains(recs, ["clip", "resnet"], wnidOf)[0]!.paired, pr); // seeded: reproduces
  assert(!d!.inconclusive, "p = 0.035 < 0.05 with n = 40 is a conclusion");
  // Fewer discordant images: not significant, so inconclusive.
  const [e] = summarizeDomains(recs.slice(6), ["clip", "resnet"], wnidOf);
  assertEquals([e!.paired!.mcnemar.b, e!.paired!.mcnemar.c], [6, 3]);
  assert(e!.inconclusive);
});

Deno.test("likeForLike() compares two domains on the classes they share only", () => {
  const l = likeForLike(RECORDS, ["clip", "resnet"], wnidOf);
  assertEquals(l.length, 1);
  assertEquals(l[0]!.domains, ["photo", "sketch"]);
  assertEquals(l[0]!.classes, [71, 288]);
  assertEquals(l[0]!.accuracy.photo!.clip, { n: 2, top1: 0.5, top5: 1 });
  assertEquals(l[0]!.accuracy.sketch!.resnet, { n: 2, top1: 0, top5: 0 });
});

Deno.test("perClass() counts images and top-1 hits per class and domain", () => {
  const rows = perClass(RECORDS, ["clip", "resnet"]);
  assertEquals(rows.map((r) => r.index), [22, 71, 288]);
  assertEquals(rows[2]!.domains, {
    photo: { n: 1, hits: { clip: 1, resnet: 0 } },
    sketch: { n: 1, hits: { clip: 0, resnet: 0 } },
  });
});

const OUT = `reports/test-${crypto.randomUUID().slice(0, 8)}`;
let doc: CompareDocument | undefined;

async function defaultRun(): Promise<CompareDocument> {
  if (doc) return doc;
  const run = await runTaskCli("compare", [
    "--clip",
    "models/fixtures/clip-tiny",
    "--resnet",
    "models/fixtures/resnet-tiny",
    "--device",
    "wasm",
    "--out",
    OUT,
    "--json",
  ]);
  assert(run.code === 0, run.stderr);
  doc = JSON.parse(run.stdout) as CompareDocument;
  assert(validate(doc), validate.errors);
  return doc;
}

Deno.test("compare on the embedded sets scores photo, art and sketch on one 109-class label set", async () => {
  const d = await defaultRun();
  assertEquals(d.label_set.length, 109);
  assertEquals(d.domains.map((x) => [x.domain, x.n]), [["photo", 10], ["art", 93], ["sketch", 27]]);
  const artSketch = d.like_for_like.find((l) => l.domains.join() === "art,sketch")!;
  assertEquals(artSketch.classes.length, 14);
  assertEquals(d.per_class.length, 109);
  assert(d.domains.every((x) => x.inconclusive));
});

Deno.test("the report directory holds report.md, results.json, results.csv and a self-contained report.html", async () => {
  const d = await defaultRun();
  const md = await Deno.readTextFile(`${ROOT}/${OUT}/report.md`);
  for (const h of ["## Accuracy per domain", "## Like-for-like", "## Per class", "## Provenance"]) {
    assert(md.includes(h), h);
  }
  assert(md.includes(d.provenance.models.resnet!.sha256));
  const csv = (await Deno.readTextFile(`${ROOT}/${OUT}/results.csv`)).trim().split("\n");
  assertEquals(
    csv[0],
    "model,domain,n,top1,top1_err,top5,top5_err,top1_diff,top5_diff,mean_per_class_recall,param_count,img_size,interpolation",
  );
  assertEquals(csv.length, 1 + 3 * 3);
  const photoClip = csv.find((l) => l.startsWith("clip,photo,"))!.split(",");
  assertEquals(photoClip[3], (100 * d.domains[0]!.models.clip!.top1).toFixed(1));
  assertEquals(photoClip[7], "0.0"); // diff against photo itself
  const json = JSON.parse(await Deno.readTextFile(`${ROOT}/${OUT}/results.json`));
  assertEquals(json.benchmark.length, 9);
  assertEquals(Object.keys(json.benchmark[0].metrics), ["acc1", "acc5", "mean_per_class_recall"]);
  const html = await Deno.readTextFile(`${ROOT}/${OUT}/report.html`);
  assert(
    !/(src|href)=["']?(https?:)?\/\//i.test(html) && !/url\(\s*["']?https?:/i.test(html),
    "network reference in report.html",
  );
  // Every image once in the full list, and again in the gallery it belongs to.
  const gallery = d.results.filter((r) =>
    (r.clip!.top5[0]!.index === r.true.index) !== (r.resnet!.top5[0]!.index === r.true.index)
  );
  assert(gallery.length > 0, "the fixtures disagree on some image");
  assertEquals((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 130 + gallery.length);
  for (const h of ["## Paired comparison", "## Effective robustness", "### Most frequent confusions", "## Per class"]) {
    assert(md.includes(h), h);
  }
});

const consoleErrors = (stderr: string) => stderr.split("\n").filter((l) => /:CONSOLE[:(]\d+\)?\]|Uncaught/.test(l));

Deno.test({
  name: "report.html opens in headless Chromium with no console errors, and shows its sections and numbers",
  ignore: !chromium,
  fn: async () => {
    const d = await defaultRun();
    const url = `file://${ROOT}/${OUT}/report.html`;
    // The console check must be able to fail: a probe page that logs an error is seen.
    const probe = `${ROOT}/${OUT}/probe.html`;
    await Deno.writeTextFile(probe, "<!doctype html><script>console.error('probe-error')</script>");
    assert(
      consoleErrors((await headless(["--dump-dom", `file://${probe}`])).stderr).some((l) => l.includes("probe-error")),
    );
    const { stdout, stderr } = await headless(["--dump-dom", url]);
    assertEquals(consoleErrors(stderr), []);
    for (
      const id of [
        "summary",
        "paired",
        "effective-robustness",
        "confusions",
        "galleries",
        "clip-only",
        "resnet-only",
        "per-class",
        "like-for-like",
        "images",
        "provenance",
      ]
    ) {
      assert(stdout.includes(`id="${id}"`), id);
    }
    assert(stdout.includes("<svg"));
    assert(stdout.includes(`${(100 * d.domains[1]!.models.clip!.top1).toFixed(1)}`));
    assert(stdout.includes("art (n=93)"));
    await Deno.mkdir(`${ROOT}/tests/.tmp/artifacts`, { recursive: true });
    const shot = `${ROOT}/tests/.tmp/artifacts/report.png`;
    await headless(["--window-size=1280,2400", `--screenshot=${shot}`, url]);
    assert((await Deno.stat(shot)).size > 10_000, "screenshot too small");
  },
});

Deno.test({
  name: "report.html fits the page at 1280 and 800 px wide and fetches nothing from the network",
  ignore: !chromium,
  fn: async () => {
    await defaultRun();
    // The check can fail: a page with a too-wide element and an external image is caught.
    const probe = await layout(
      `${ROOT}/${OUT}`,
      '<!doctype html><body><div style="width:3000px">x</div><img src="http://127.0.0.1:9/x.png"></body>',
      "probe-wide.html",
      1280,
    );
    assert(probe.bad.length > 0 && probe.fetched.length > 0, JSON.stringify(probe));
    const html = await Deno.readTextFile(`${ROOT}/${OUT}/report.html`);
    for (const width of [1280, 800]) {
      const r = await layout(`${ROOT}/${OUT}`, html, `layout-${width}.html`, width);
      assertEquals([r.bad, r.fetched], [[], []], `at ${width}px: ${JSON.stringify(r)}`);
      assert(r.scroll <= r.vw, `at ${width}px the page scrolls sideways: ${r.scroll} > ${r.vw}`);
    }
  },
});

Deno.test("cleanup: remove the test report", async () => {
  await Deno.remove(`${ROOT}/${OUT}`, { recursive: true }).catch(() => {});
  assert(!(await Deno.stat(`${ROOT}/${OUT}`).then(() => true, () => false)));
});

Deno.test("compare with three models (two CLIP fixtures, one ResNet) puts all three in every table and plot", async () => {
  const out = `${OUT}-three`;
  try {
    const run = await runTaskCli("compare", [
      "--clip",
      "models/fixtures/clip-tiny",
      "--clip",
      "models/fixtures/clip-tiny-dyn",
      "--resnet",
      "models/fixtures/resnet-tiny",
      "--device",
      "wasm",
      "--out",
      out,
      "--json",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const three = JSON.parse(run.stdout) as CompareDocument;
    assert(validate(three), JSON.stringify(validate.errors));
    assertEquals(three.provenance.models.more.map((m) => [m.key, m.kind, m.name]), [[
      "clip_2",
      "clip",
      "clip-tiny-dyn",
    ]]);
    for (const d of three.domains) assertEquals(Object.keys(d.models), ["clip", "clip_2", "resnet", "resnet_1000"]);
    // The second CLIP is scored exactly as it is alone, on the same label set.
    const alone = await runTaskCli("compare", [
      "--clip",
      "models/fixtures/clip-tiny-dyn",
      "--device",
      "wasm",
      "--no-report",
      "--json",
    ]);
    assertEquals(alone.code, 0, alone.stderr);
    const solo = JSON.parse(alone.stdout) as CompareDocument;
    assertEquals(
      three.results.map((r) => r.more!.clip_2!.top5.map((s) => s.index)),
      solo.results.map((r) => r.clip!.top5.map((s) => s.index)),
    );
    assertEquals(three.domains.map((d) => d.models.clip_2), solo.domains.map((d) => d.models.clip));
    const names = ["clip-tiny zero-shot", "clip-tiny-dyn zero-shot", "resnet-tiny (label set)"];
    const md = await Deno.readTextFile(`${ROOT}/${out}/report.md`);
    const section = (h: string) => md.slice(md.indexOf(h), md.indexOf("\n## ", md.indexOf(h) + 3));
    for (const h of ["## Accuracy per domain", "## Effective robustness", "## Per class"]) {
      for (const n of names) assert(section(h).includes(n), `${h} lacks ${n}`);
    }
    // Paired: each CLIP against the ResNet, in every domain.
    const paired = section("## Paired comparison");
    for (const c of names.slice(0, 2)) {
      assertEquals((paired.match(new RegExp(`\\| ${c} − resnet-tiny \\(label set\\) \\|`, "g")) ?? []).length, 3, c);
    }
    assert(/\| clip-tiny-dyn zero-shot \| /.test(section("## Where they differ")), "confusions of the second CLIP");
    const html = await Deno.readTextFile(`${ROOT}/${out}/report.html`);
    for (const n of names) {
      // In the accuracy chart's and every effective-robustness plot's tooltips.
      assert(html.includes(`<title>${n} on photo:`), `accuracy chart: ${n}`);
      assertEquals(html.split(`<title>${n}: photo `).length - 1, 2, `robustness plots: ${n}`);
    }
    const csv = await Deno.readTextFile(`${ROOT}/${out}/results.csv`);
    assertEquals(csv.trim().split("\n").filter((l) => l.startsWith("clip_2,")).length, 3);
  } finally {
    await Deno.remove(`${ROOT}/${out}`, { recursive: true }).catch(() => {});
  }
});

Deno.test("compare takes a class-name ImageFolder: CLIP scores every class, the ResNet only those that map", async () => {
  const root = await Deno.makeTempDir({ dir: `${ROOT}/tests/.tmp` });
  const out = `${OUT}-named`;
  try {
    const photos = [...Deno.readDirSync(`${ROOT}/data/samples/photo`)].map((e) => e.name).sort();
    for (
      const [f, names] of [["bald_eagle_folder", photos.slice(0, 1)], ["mystery_thing", photos.slice(1, 3)]] as const
    ) {
      Deno.mkdirSync(`${root}/ds/${f}`, { recursive: true });
      for (const n of names) Deno.copyFileSync(`${ROOT}/data/samples/photo/${n}`, `${root}/ds/${f}/${n}`);
    }
    Deno.writeTextFileSync(`${root}/map.json`, JSON.stringify({ bald_eagle_folder: "n01614925" }));
    const run = await runTaskCli("compare", [
      "--clip",
      "models/fixtures/clip-tiny",
      "--resnet",
      "models/fixtures/resnet-tiny",
      "--device",
      "wasm",
      "--dataset",
      `things=${root}/ds`,
      "--class-map",
      `${root}/map.json`,
      "--out",
      out,
      "--json",
    ]);
    assertEquals(run.code, 0, run.stderr);
    const d = JSON.parse(run.stdout) as CompareDocument;
    const valid = validate(d);
    assert(valid, JSON.stringify(validate.errors));
    const things = d.results.filter((r) => r.domain === "things");
    assertEquals(things.length, 3);
    const mystery = d.label_set.find((l) => l.label === "mystery thing")!;
    assertEquals([mystery.index >= 1000, mystery.wnid], [true, ""]);
    for (const r of things) {
      assert(r.clip!.top5.length === 5, "CLIP ranks the whole label set, the class outside ImageNet included");
      if (r.true.index === mystery.index) assertEquals(r.resnet, null);
      else assert(r.resnet!.top5.every((s) => s.index < 1000));
    }
    const dom = d.domains.find((x) => x.domain === "things")!;
    assertEquals([dom.models.clip!.n, dom.models.resnet!.n], [3, 1]);
    // One label set for all domains: the 109 embedded classes (the eagle among them) and the class outside ImageNet.
    assertEquals(d.label_set.length, 110);
    const md = await Deno.readTextFile(`${ROOT}/${out}/report.md`);
    assert(
      /## Classes the ResNet could score\n\n.*the 109 that are ImageNet classes.*Not in ImageNet: mystery thing\./.test(
        md,
      ),
      md,
    );
    const html = await Deno.readTextFile(`${ROOT}/${out}/report.html`);
    assert(
      /<section id="resnet-coverage">.*Not in ImageNet: mystery thing\./.test(html),
      "the HTML report says so too",
    );
    const ids = new Set(d.label_set.map((l) => l.index));
    assert(d.results.every((r) => r.clip!.top5.every((s) => ids.has(s.index))));
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(`${ROOT}/${out}`, { recursive: true }).catch(() => {});
  }
});
