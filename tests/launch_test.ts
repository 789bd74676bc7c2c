/**
 * The launcher behind `deno task`: every documented cache location, any `--out`, and a mirror from `--hub-url` or
 * `HF_ENDPOINT` get exactly the grants they need; paths resolve from the folder the user stands in; no task
 * prompts on a terminal.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { LAUNCHER_ENV, PROFILES, taskGrants } from "../lib/cli/grants.ts";
import { allTasks, privateEnv, ROOT, runDenoTask, runTaskCli, tempDir, TINY_MODELS } from "./_helpers.ts";
import { immichHubFiles, startHub } from "./_hub_server.ts";

const env = (vars: Record<string, string>) => (name: string) => vars[name] || undefined;
const writes = (flags: string[]) =>
  flags.find((f) => f.startsWith("--allow-write="))?.slice("--allow-write=".length).split(",") ?? [];
const net = (flags: string[]) =>
  flags.find((f) => f.startsWith("--allow-net="))?.slice("--allow-net=".length).split(",") ?? [];

Deno.test("grants: each documented cache location is the one granted, and nothing else is writable", () => {
  const cwd = "/home/me/work";
  const cases: [string, string[], Record<string, string>, typeof Deno.build.os, string][] = [
    ["--cache-dir", ["--cache-dir", "models"], { HOME: "/home/me" }, "linux", "/home/me/work/models"],
    ["--cache-dir=", ["--cache-dir=/data/c"], { HOME: "/home/me" }, "linux", "/data/c"],
    ["$CLIPCMP_CACHE_DIR", [], { HOME: "/home/me", CLIPCMP_CACHE_DIR: "/srv/cc" }, "linux", "/srv/cc"],
    ["$XDG_CACHE_HOME", [], { HOME: "/home/me", XDG_CACHE_HOME: "/xdg" }, "linux", "/xdg/clipcmp"],
    ["Linux default", [], { HOME: "/home/me" }, "linux", "/home/me/.cache/clipcmp"],
    ["macOS default", [], { HOME: "/Users/me" }, "darwin", "/Users/me/Library/Caches/clipcmp"],
  ];
  for (const [what, args, vars, os, want] of cases) {
    assertEquals(writes(taskGrants("zeroshot", args, { cwd, env: env(vars), os })), [want], what);
  }
  // The flag beats the variables, which beat the default.
  const both = taskGrants("params", ["--cache-dir", "/a"], { cwd, env: env({ CLIPCMP_CACHE_DIR: "/b" }) });
  assertEquals(writes(both), ["/a"]);
});

Deno.test("grants: the output location comes from --out, relative to the caller; a file's folder is granted", () => {
  const ctx = { cwd: "/home/me/work", env: env({ HOME: "/home/me" }) };
  assertEquals(writes(taskGrants("compare", ["--out", "../r"], ctx)), ["/home/me/.cache/clipcmp", "/home/me/r"]);
  assertEquals(writes(taskGrants("compare", [], ctx)), ["/home/me/.cache/clipcmp", "/home/me/work/reports"]);
  assertEquals(writes(taskGrants("compare", ["--no-report"], ctx)), ["/home/me/.cache/clipcmp"]);
  assertEquals(writes(taskGrants("eval", ["--out=/x/run"], ctx)), ["/home/me/.cache/clipcmp", "/x/run"]);
  assertEquals(writes(taskGrants("preprocess", ["a.jpg", "--out", "arrays/x.npy"], ctx)), ["/home/me/work/arrays"]);
  assertEquals(writes(taskGrants("preprocess", ["a.jpg"], ctx)), ["/home/me/work/out"]);
  // After "--", an "--out" is a positional (a file named so), not a flag.
  assertEquals(writes(taskGrants("shift", ["--", "--out", "/etc"], ctx)), [
    "/home/me/.cache/clipcmp",
    "/home/me/work/reports",
  ]);
});

Deno.test("grants: the hub and its CDN, plus the mirror of --hub-url or $HF_ENDPOINT; --offline grants no network", () => {
  const ctx = { cwd: "/w", env: env({ HOME: "/h" }) };
  const hub = ["huggingface.co", "hf.co", "*.huggingface.co", "*.hf.co"];
  assertEquals(net(taskGrants("compare", [], ctx)), hub);
  assertEquals(net(taskGrants("compare", ["--hub-url", "https://hf-mirror.com"], ctx)), [...hub, "hf-mirror.com"]);
  assertEquals(net(taskGrants("fp16", [], { cwd: "/w", env: env({ HF_ENDPOINT: "http://10.0.0.5:8080" }) })), [
    ...hub,
    "10.0.0.5",
  ]);
  assertEquals(net(taskGrants("compare", ["--offline"], ctx)), []);
  assertEquals(net(taskGrants("cache", [], ctx)), []);
  // Not an http(s) URL: nothing extra (the task refuses the URL itself).
  assertEquals(net(taskGrants("compare", ["--hub-url", "file:///etc"], ctx)), hub);
  for (const task of Object.keys(PROFILES)) {
    const flags = taskGrants(task, [], ctx);
    assert(flags.includes("--no-prompt"), task);
    assert(!flags.some((f) => f === "--allow-write" || f === "--allow-net" || f === "--allow-env" || f === "-A"), task);
  }
});

Deno.test("every task that runs a part goes through the launcher, with a profile", () => {
  for (const [name, cmd] of allTasks()) {
    if (!cmd.startsWith("deno run")) continue;
    if (name === "synsets") continue; // reads only the repository, writes nothing, takes no paths
    assert(cmd.endsWith(`lib/cli/launch.ts ${name}`), `${name}: ${cmd}`);
    assert(cmd.includes(` --allow-env=${LAUNCHER_ENV.join(",")} `), `${name}: the launcher reads exactly LAUNCHER_ENV`);
    assert(PROFILES[name], `no profile for ${name}`);
  }
});

const ZS = ["--clip", "models/fixtures/clip-tiny", "--labels", "cat,dog", "--device", "wasm"];
const PHOTO = "models/fixtures/parity/tiny.png";

function headsIn(dir: string): string[] {
  try {
    return [...Deno.readDirSync(`${dir}/heads`)].map((e) => e.name).filter((n) => n.endsWith(".npy"));
  } catch {
    return [];
  }
}

for (
  const [what, place] of [
    ["--cache-dir", (d: string) => ({ args: ["--cache-dir", `${d}/flag`], env: {}, dir: `${d}/flag` })],
    ["$CLIPCMP_CACHE_DIR", (d: string) => ({ args: [], env: { CLIPCMP_CACHE_DIR: `${d}/var` }, dir: `${d}/var` })],
    [
      "$XDG_CACHE_HOME",
      (d: string) => ({ args: [], env: { XDG_CACHE_HOME: `${d}/xdg` }, dir: `${d}/xdg/clipcmp` }),
    ],
  ] as const
) {
  Deno.test(`under deno task, a cache at ${what} is written (the zero-shot head is cached there)`, async () => {
    const d = await tempDir();
    try {
      const p = place(d);
      const run = await runDenoTask("zeroshot", [...ZS, ...p.args, PHOTO], { env: p.env });
      assertEquals(run.code, 0, run.stderr);
      assert(!/could not cache/.test(run.stderr), run.stderr);
      assertEquals(headsIn(p.dir).length, 1, `${p.dir}: ${run.stderr}`);
    } finally {
      await Deno.remove(d, { recursive: true });
    }
  });
}

Deno.test("under deno task, a mirror that no default lists is reached, from --hub-url and from $HF_ENDPOINT", async () => {
  const hub = startHub(immichHubFiles(), "127.0.0.2");
  const d = await tempDir();
  try {
    const args = ["--clip", "clip-rn50-immich", "--labels", "cat,dog", "--device", "wasm", PHOTO];
    const a = await runDenoTask("zeroshot", [...args, "--hub-url", hub.endpoint, "--cache-dir", `${d}/a`]);
    assertEquals(a.code, 0, a.stderr);
    assert(/1 image\(s\) classified/.test(a.stdout), a.stdout);
    const b = await runDenoTask("zeroshot", [...args, "--cache-dir", `${d}/b`], { env: { HF_ENDPOINT: hub.endpoint } });
    assertEquals(b.code, 0, b.stderr);
    assert(hub.log.filter((l) => l.startsWith("GET /cdn/")).length >= 10, hub.log.join("\n"));
  } finally {
    await hub.close();
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("from a subfolder, deno task resolves paths from there and writes its outputs there", async () => {
  const d = await tempDir();
  try {
    const sub = `${d}/work`;
    await Deno.mkdir(sub);
    await Deno.copyFile(`${ROOT}/${PHOTO}`, `${sub}/photo.png`);
    const rel = (p: string) => `../../../../${p}`; // from tests/.tmp/<dir>/work back to the root
    const zs = await runDenoTask("zeroshot", [
      "--clip",
      rel("models/fixtures/clip-tiny"),
      "--labels",
      "cat,dog",
      "--device",
      "wasm",
      "photo.png",
    ], { cwd: sub });
    assertEquals(zs.code, 0, zs.stderr);
    assert(/photo\.png/.test(zs.stdout), zs.stdout);
    const pre = await runDenoTask("preprocess", ["photo.png", "--for", "clip", "--device", "wasm", "--out", "x.npy"], {
      cwd: sub,
    });
    assertEquals(pre.code, 0, pre.stderr);
    assert((await Deno.stat(`${sub}/x.npy`)).size > 224 * 224 * 3 * 4, "x.npy written in the caller's folder");
    const missing = await runDenoTask("zeroshot", [
      ...ZS.slice(2),
      "--clip",
      rel("models/fixtures/clip-tiny"),
      "no.png",
    ], {
      cwd: sub,
    });
    assertEquals(missing.code, 1, missing.stderr);
    assert(missing.stderr.includes("no.png"), missing.stderr);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

Deno.test("compare writes its report to an --out outside reports/, and refuses an unwritable one before any work", async () => {
  const d = await tempDir();
  try {
    const cmp = [...TINY_MODELS, "--device", "wasm"];
    const ok = await runDenoTask("compare", [...cmp, "--out", `${d}/report`, "--dataset", "p=models/fixtures/parity"]);
    assertEquals(ok.code, 0, ok.stderr);
    assert((await Deno.stat(`${d}/report/report.html`)).isFile);
    const bad = await runTaskCli("compare", [...cmp, "--out", "/proc/clipcmp-report"]);
    assertEquals(bad.code, 1, bad.stderr);
    assertEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assert(/^clipcmp compare: Cannot write to "\/proc\/clipcmp-report": /.test(bad.stderr), bad.stderr);
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});

const HAS_SCRIPT = await new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" }).output()
  .then((o) => o.success).catch(() => false);
if (!HAS_SCRIPT) console.warn("SKIP pseudo-terminal tests: no `script` (util-linux) on PATH");

Deno.test({
  name: "under a pseudo-terminal no task prompts: each --help, and a model run that starts wasm threads",
  ignore: !HAS_SCRIPT,
  async fn() {
    const runs = allTasks().filter(([, c]) => c.startsWith("deno run")).map(([n]) => `deno task -q ${n} --help`);
    runs.push(`deno task -q zeroshot ${ZS.join(" ")} ${PHOTO}`);
    const envs = await privateEnv({});
    for (const line of runs) {
      // script -e: exit with the child's status. A prompt waits for an answer forever: stop it after 60 s.
      const child = new Deno.Command("script", {
        args: ["-qec", line, "/dev/null"],
        cwd: ROOT,
        env: envs,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      const out = await child.output();
      clearTimeout(timer);
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert(!/Deno requests|Allow\?/.test(text), `${line} prompted:\n${text}`);
      assertEquals(out.code, 0, `${line}:\n${text}`);
    }
  },
});
