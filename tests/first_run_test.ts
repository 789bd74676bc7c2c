/** The small things a new user meets first (issue 16 #11): each says what it means instead of misleading. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { runTaskCli, tempDir, TINY_MODELS } from "./_helpers.ts";
import { immichHubFiles, startHub } from "./_hub_server.ts";

Deno.test("a flag that takes one value, given twice, is a usage error naming it", async () => {
  const run = await runTaskCli("zeroshot", [
    "--clip",
    "models/fixtures/clip-tiny",
    "--clip",
    "models/fixtures/clip-tiny-dyn",
    "data/samples/photo",
  ]);
  assertEquals(run.code, 2, run.stderr);
  assert(/--clip is given more than once/.test(run.stderr), run.stderr);
  // A list is several models too: only compare takes them.
  const list = await runTaskCli("zeroshot", [
    "--clip",
    "models/fixtures/clip-tiny,models/fixtures/clip-tiny-dyn",
    "data/samples/photo",
  ]);
  assertEquals(list.code, 2, list.stderr);
  assert(/--clip takes one model in this task \(compare takes several\)/.test(list.stderr), list.stderr);
});

Deno.test("zeroshot --help lists no ResNet flags, and --resnet is refused", async () => {
  const help = await runTaskCli("zeroshot", ["--help"]);
  assertEquals(help.code, 0);
  assert(!/--resnet/.test(help.stdout), help.stdout);
  const run = await runTaskCli("zeroshot", ["--resnet", "models/fixtures/resnet-tiny", "x.jpg"]);
  assertEquals(run.code, 2, run.stderr);
});

Deno.test("one label, or a one-class compare, warns that its 100 % is by construction", async () => {
  const zs = await runTaskCli("zeroshot", [
    "--clip",
    "models/fixtures/clip-tiny",
    "--device",
    "wasm",
    "--labels",
    "cat",
    "data/samples/photo/n01614925_bald_eagle.jpg",
  ]);
  assertEquals(zs.code, 0, zs.stderr);
  assert(/warning: one label only/.test(zs.stderr), zs.stderr);
  const d = await tempDir();
  try {
    await Deno.mkdir(`${d}/n01614925`);
    await Deno.copyFile("data/samples/photo/n01614925_bald_eagle.jpg", `${d}/n01614925/a.jpg`);
    const cmp = await runTaskCli("compare", [
      ...TINY_MODELS,
      "--device",
      "wasm",
      "--no-report",
      d,
    ]);
    assertEquals(cmp.code, 0, cmp.stderr);
    assert(
      /warning: the label set has 1 class: top-1 and top-5 over it are 100 % by construction/.test(cmp.stderr),
      cmp.stderr,
    );
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("zeroshot on wnid-named files reports accuracy over the images whose class is among the labels", async () => {
  const args = ["--clip", "models/fixtures/clip-tiny", "--device", "wasm", "--json"];
  const run = await runTaskCli("zeroshot", [...args, "--labels", "leopard,bald eagle,tiger", "data/samples/photo"]);
  assertEquals(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  // Independent count: files whose wnid is leopard's or the bald eagle's (tiger has no sample photo).
  const named = doc.results.filter((r: { path: string }) => /n02128385_|n01614925_/.test(r.path));
  assertEquals(doc.summary.accuracy.n, named.length);
  const right =
    named.filter((r: { path: string; top_k: { label: string }[] }) =>
      (r.path.includes("n02128385_") ? "leopard" : "bald eagle") === r.top_k[0]!.label
    ).length;
  assertEquals(doc.summary.accuracy.top1, right / named.length);
  const none = await runTaskCli("zeroshot", [...args, "--labels", "cat,dog", "data/samples/photo"]);
  assertEquals(JSON.parse(none.stdout).summary.accuracy, null);
});

Deno.test("cache lists which manifest models are present, complete or partial", async () => {
  const hub = startHub(immichHubFiles());
  const d = await tempDir();
  try {
    const fetched = await runTaskCli("zeroshot", [
      "--clip",
      "clip-rn50-immich",
      "--hub-url",
      hub.endpoint,
      "--cache-dir",
      d,
      "--labels",
      "cat,dog",
      "--device",
      "wasm",
      "data/samples/photo/n01614925_bald_eagle.jpg",
    ]);
    assertEquals(fetched.code, 0, fetched.stderr);
    const list = await runTaskCli("cache", ["--cache-dir", d, "--json"]);
    const models = JSON.parse(list.stdout).models as { id: string; complete: boolean; present: string[] }[];
    assertEquals(models.find((m) => m.id === "clip-rn50-immich")!.complete, true);
    assertEquals(models.find((m) => m.id === "clip-rn50")!.present, []);
    const text = await runTaskCli("cache", ["--cache-dir", d]);
    assert(/clip-rn50-immich\s+clip\s+cached/.test(text.stdout), text.stdout);
  } finally {
    await hub.close();
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("Ctrl-C: compare keeps and reports what finished (exit 130); zeroshot stops at once saying so", async () => {
  const { signalTaskWhen } = await import("./_helpers.ts");
  const d = await tempDir();
  try {
    const args = [
      ...TINY_MODELS,
      "--device",
      "wasm",
      "--out",
      `${d}/r`,
    ];
    const run = await signalTaskWhen("compare", args, {}, /scored 64\/130 images, [\d.]+ images\/s, about/, "SIGINT");
    assertEquals(run.code, 130, run.stderr);
    assert(/interrupted after (64|128) images; the report of those is in/.test(run.stderr), run.stderr);
    const doc = JSON.parse(await Deno.readTextFile(`${d}/r/results.json`)).comparison;
    assertEquals(doc.incomplete, "interrupted (Ctrl-C)");
    assert(doc.summary.n >= 64 && doc.summary.n < 130, `${doc.summary.n}`);
    assertEquals(
      doc.summary.n + doc.skipped.filter((s: { reason: string }) => /^not run: interrupted/.test(s.reason)).length,
      130,
    );
    const zs = await signalTaskWhen(
      "zeroshot",
      [
        "--clip",
        "models/fixtures/clip-tiny",
        "--device",
        "wasm",
        "--imagenet",
        "--templates",
        "clip80",
        "data/samples/photo",
      ],
      { CLIPCMP_CACHE_DIR: `${d}/cache` },
      /text features: \d+\/1000 classes/,
      "SIGINT",
    );
    assertEquals(zs.code, 130, zs.stderr);
    assert(/clipcmp zeroshot: interrupted; nothing more was written/.test(zs.stderr), zs.stderr);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});
