/** The README's layering rules, checked on the imports themselves. */
import { ok as assert } from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

function importsOf(file: string): string[] {
  const src = Deno.readTextFileSync(file);
  return [...src.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)].map((m) => m[1]!)
    .concat([...src.matchAll(/import\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!));
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...tsFiles(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

Deno.test("parts never import kernels/ (they go through the task cores in lib/)", () => {
  for (const f of tsFiles(`${ROOT}/parts`)) {
    for (const i of importsOf(f)) assert(!/(^|\/)kernels\//.test(i), `${f.slice(ROOT.length + 1)} imports ${i}`);
  }
});

Deno.test("nothing below lib/cli/ imports it or parts/: the API and the CLI share the same cores", () => {
  for (const f of [...tsFiles(`${ROOT}/lib`), ...tsFiles(`${ROOT}/kernels`)]) {
    if (f.includes("/lib/cli/")) continue;
    for (const i of importsOf(f)) {
      assert(!/(^|\/)cli\//.test(i) && !/(^|\/)parts\//.test(i), `${f.slice(ROOT.length + 1)} imports ${i}`);
    }
  }
});

Deno.test("kernels/ imports no task core, model or report module", () => {
  for (const f of tsFiles(`${ROOT}/kernels`)) {
    for (const i of importsOf(f)) {
      assert(
        !/lib\/(models|report|hub|compare|zeroshot|eval|api|fp16)/.test(i),
        `${f.slice(ROOT.length + 1)} imports ${i}`,
      );
    }
  }
});

Deno.test("the report writers depend on the document types (lib/documents.ts), not on a task core", () => {
  for (const f of tsFiles(`${ROOT}/lib/report`)) {
    for (const i of importsOf(f)) {
      assert(
        !/(^|\/)(compare|zeroshot|eval|api|fp16)\.ts$|tasks\//.test(i),
        `${f.slice(ROOT.length + 1)} imports ${i}`,
      );
    }
  }
});

Deno.test("the model-running parts load no model and open no device: the task cores in lib/tasks/ do", () => {
  for (const name of ["compare", "eval", "fp16", "params", "shift", "zeroshot"]) {
    const src = Deno.readTextFileSync(`${ROOT}/parts/${name}.ts`);
    for (const word of ["ClipModel", "ResnetModel", "resolveDevice", "requestGpu", "readOnnx"]) {
      assert(!new RegExp(`\\b${word}\\b`).test(src), `parts/${name}.ts uses ${word}`);
    }
    assert(src.includes("../lib/tasks/"), `parts/${name}.ts has no task core in lib/tasks/`);
  }
});
