/**
 * Every task that prints JSON has a schema in docs/schemas/, and its real output validates against it; the files
 * eval and shift write (metrics.json, results.json) are the same documents.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { allTasks, HAS_GPU, ROOT, runTaskCli, tempDir, TINY_MODELS } from "./_helpers.ts";
import { schemaValidator } from "./_schema.ts";

Deno.test("each task whose help offers --json has a schema, and each schema a task", async () => {
  const schemas = [...Deno.readDirSync(`${ROOT}/docs/schemas`)].map((e) => e.name.replace(".schema.json", "")).sort();
  const withJson: string[] = [];
  for (const [name, cmd] of allTasks()) {
    if (!cmd.startsWith("deno run")) continue;
    const help = await runTaskCli(name, ["--help"]);
    if (/--json/.test(help.stdout)) withJson.push(name);
  }
  assertEquals(withJson.sort(), schemas);
});

Deno.test("every task's --json validates against its schema (eval and shift: the files they write too)", async () => {
  const d = await tempDir();
  try {
    for (const [cls, file] of [["n02128385", "n02128385_leopard.jpg"], ["n01614925", "n01614925_bald_eagle.jpg"]]) {
      await Deno.mkdir(`${d}/ds/${cls}`, { recursive: true });
      await Deno.copyFile(`${ROOT}/data/samples/photo/${file}`, `${d}/ds/${cls}/${file}`);
    }
    const runs: [string, string[], string | null][] = [
      ["compare", [...TINY_MODELS, "--device", "wasm", "--no-report", "--json", "data/samples/photo"], null],
      ["zeroshot", ["--clip", "models/fixtures/clip-tiny", "--device", "wasm", "--json", "data/samples/photo"], null],
      ["params", [...TINY_MODELS, "--json"], null],
      ["synsets", ["leopard", "--json"], null],
      ["tokenize", ["--json", "a photo of a cat"], null],
      ["cache", ["--cache-dir", `${d}/cache`, "--json"], null],
      [
        "eval",
        [...TINY_MODELS, "--device", "wasm", "--dataset", `ds=${d}/ds`, "--out", `${d}/eval`, "--json"],
        "eval/metrics.json",
      ],
    ];
    if (HAS_GPU) {
      runs.push([
        "shift",
        [...TINY_MODELS, "--device", "wasm", "--shifts", "blur", "--limit", "2", "--out", `${d}/shift`, "--json"],
        "shift/results.json",
      ]);
    }
    for (const [task, args, file] of runs) {
      const run = await runTaskCli(task, args);
      assertEquals(run.code, 0, `${task}: ${run.stderr}`);
      const validate = await schemaValidator(task);
      const doc = JSON.parse(run.stdout);
      assert(validate(doc), `${task}: ${validate.errors}`);
      if (file) {
        assertEquals(JSON.parse(await Deno.readTextFile(`${d}/${file}`)), doc, `${task}: ${file} is the document`);
      }
    }
  } finally {
    await Deno.remove(d, { recursive: true });
  }
});
