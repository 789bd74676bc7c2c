import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { allTasks, runTaskCli } from "./_helpers.ts";

Deno.test("deno.json has a task per part plus test, bench and check", () => {
  const names = allTasks().map(([n]) => n);
  for (const t of ["params", "synsets", "zeroshot", "compare", "fp16", "test", "bench", "check"]) {
    assert(names.includes(t), `missing task ${t}`);
  }
});

Deno.test("no task uses -A, an unscoped --allow-write, or --allow-net without a host list", () => {
  for (const [name, cmd] of allTasks()) {
    const words = cmd.split(/\s+/);
    for (const w of words) {
      assert(w !== "-A" && w !== "--allow-all", `${name} uses ${w}`);
      assert(w !== "--allow-write" && w !== "-W", `${name} uses an unscoped --allow-write`);
      assert(w !== "--allow-net" && w !== "-N", `${name} uses --allow-net without hosts`);
      // Only the tests run other programs; the launcher runs exactly `deno` (the task's script, with its grants).
      if (w.startsWith("--allow-run")) {
        assert(
          ["test", "bench"].includes(name) || (w === "--allow-run=deno" && cmd.includes("lib/cli/launch.ts")),
          `${name}: ${w}`,
        );
      }
    }
  }
});

for (const [name] of allTasks().filter(([, c]) => c.startsWith("deno run"))) {
  Deno.test(`${name} --help prints usage and exits 0 with its declared permissions`, async () => {
    const run = await runTaskCli(name, ["--help"]);
    assertEquals(run.code, 0, run.stderr);
    assert(run.stdout.startsWith(`clipcmp ${name}`), run.stdout);
  });
}
