import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { HAS_F16, ROOT, runTaskCli } from "./_helpers.ts";

/** Splits a shell command line into words, honouring double and single quotes. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

const guide = await Deno.readTextFile(`${ROOT}/docs/GUIDE.md`);
const commands = [...guide.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) =>
  m[1]!.split("\n").filter((l) => l.startsWith("deno task "))
);

Deno.test("the guide has a command for every concept, each on the shipped fixtures or samples", () => {
  assert(commands.length >= 9, `${commands.length} commands`);
  for (const c of commands) {
    const w = words(c);
    if (["compare", "zeroshot", "params", "fp16"].includes(w[2]!)) {
      assert(w.includes("--clip") || w.includes("--resnet"), `${c} would download the real models`);
    }
  }
  for (const h of ["## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.", "## 7.", "## 8."]) {
    assert(guide.includes(h), h);
  }
});

for (const [i, c] of commands.entries()) {
  const [, , task, ...args] = words(c);
  Deno.test({
    name: `guide command ${i + 1} runs: ${c.slice(10, 110)}`,
    ignore: task === "fp16" && !HAS_F16,
    fn: async () => {
      const run = await runTaskCli(task!, args);
      assertEquals(run.code, 0, run.stderr);
      assert(run.stdout.length > 0);
    },
  });
}
