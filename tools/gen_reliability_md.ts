// Dev-only: writes docs/RELIABILITY.md from the case table in tests/reliability_test.ts.
//   deno run --allow-read --allow-write=docs,tests/.tmp,reports --allow-env tools/gen_reliability_md.ts
import { CASES, ELSEWHERE } from "../tests/reliability_test.ts";

const areas: Record<string, string> = { image: "Images", model: "Models", labels: "Labels", gpu: "GPU", disk: "Disk" };
const behaviour = (c: (typeof CASES)[number]) => {
  const msg = (c.stderr ?? c.stdout)?.source.replace(/\\/g, "").replace(/\|/g, "/").slice(0, 110) ?? "";
  return c.code === 0 ? `works (exit 0)${msg ? `; prints \`${msg}\`` : ""}` : `exit ${c.code}, one line: \`${msg}\``;
};
const out = [
  "# Reliability",
  "",
  "What clipcmp does with bad inputs, faults mid-run and missing permissions, and the test that proves each. Every",
  "error a user can cause is one line on stderr (`clipcmp TASK: message`, naming the file or flag) with the exit codes",
  "of [CLI.md](CLI.md): 0 done (skipped inputs listed), 1 nothing processed or a model/setup/I/O error, 2 usage error;",
  "never a stack trace (each case also asserts that). Faults that need a GPU or the network are injected:",
  "`CLIPCMP_FAULTS=no-adapter|no-f16|lose-device-after=N` for the GPU, an injected `fetch` or a loopback hub for the",
  "network. Regenerate this file with `deno run --allow-read --allow-write=docs,tests/.tmp,reports --allow-env tools/gen_reliability_md.ts`.",
  "",
  "The messages below are the patterns the tests match.",
  "",
];
for (const [area, title] of Object.entries(areas)) {
  out.push(`## ${title}`, "", "| case | input | what clipcmp does | test |", "| --- | --- | --- | --- |");
  for (const c of CASES.filter((x) => x.area === area)) {
    out.push(`| \`${c.id}\` | ${c.what} | ${behaviour(c)} | tests/reliability_test.ts \`[${c.id}]\` |`);
  }
  out.push("");
}
out.push("## Network and cache", "", "| case | input | test |", "| --- | --- | --- |");
for (const e of ELSEWHERE) out.push(`| \`${e.id}\` | ${e.what} | ${e.test} |`);
out.push(
  "",
  "## Batch runs, atomic writes, least privilege, soak",
  "",
  "- Batch runs (`compare`, `zeroshot`) skip bad images, record each with its reason in the results, carry on, and",
  "  count them in the summary; exit 0 if anything was processed (`img-batch-skip`, `img-nothing-usable`).",
  "  `preprocess` stops instead: a `.npy` with a row missing would misalign with its inputs.",
  "- Reports, cache files, zero-shot heads, converted fp16 models and the lock file are written to a temp file and",
  "  renamed (`lib/fs.ts` `writeFileAtomic`); downloads stream to `.part` and are renamed after their hash checks.",
  "- Least privilege: `deno task X` starts a launcher (`lib/cli/launch.ts`) that reads the cache location, the",
  "  output location and the mirror from the flags and environment and runs the task with exactly those grants and",
  "  `--no-prompt` (tests/launch_test.ts, for each location). tests/tasks_test.ts fails if a task uses `-A`, an",
  "  unscoped `--allow-write`, `--allow-net` without hosts, or `--allow-run` other than the launcher's `deno`",
  "  outside test/bench. The README's Permissions table lists what each task may read, write and contact.",
  "- Soak: tests/soak_test.ts classifies 2,000 generated images on the software adapter and checks that live GPU",
  "  buffer bytes return to the same level after every chunk and to zero after the sessions are released. Measured",
  "  2026-11-26 on llvmpipe (clip-tiny-dyn, chunks of 100): 61,217,904 live bytes in 81 buffers after every chunk",
  "  from the second on (peak 74,041,800), 0 bytes and 0 buffers after release; 70 s.",
  "",
);
await Deno.writeTextFile("docs/RELIABILITY.md", out.join("\n"));
console.log(`wrote docs/RELIABILITY.md: ${CASES.length} cases + ${ELSEWHERE.length} elsewhere`);
