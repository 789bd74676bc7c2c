/**
 * `deno task cache`: what the model cache holds, and `--clear` to empty it.
 *
 * @module
 */
import { cacheDirFlag } from "../lib/cli/models.ts";
import { info, parseFlags, runTask } from "../lib/cli/run.ts";
import { ClipcmpError, firstLine } from "../lib/errors.ts";
import { readLock } from "../lib/hub/lockfile.ts";
import { formatBytes } from "../lib/hub/progress.ts";
import { VERSION } from "../lib/version.ts";
import { cachedModels } from "../lib/models/manifest.ts";
import { CACHE_HELP } from "../lib/cli/help.ts";

async function walk(dir: string, base = dir): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    for await (const e of Deno.readDir(dir)) entries.push(e);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return out;
    throw err;
  }
  entries = entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await walk(p, base));
    else if (e.isFile) out.push({ path: p.slice(base.length + 1), size: (await Deno.stat(p)).size });
  }
  return out;
}

runTask("cache", async (args) => {
  const { values: v } = parseFlags(
    args,
    {
      clear: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      "cache-dir": { type: "string" },
    },
    false,
    CACHE_HELP,
  );
  const dir = cacheDirFlag(v);
  // --clear must work on a cache whose lock file is corrupt: that is how the corrupt-lock message says to recover.
  const lock = await readLock(dir).catch((err) => {
    if (v.clear) return {};
    throw err;
  });
  const files = (await walk(dir)).filter((f) =>
    !/\.(lock|guard)$/.test(f.path) && !f.path.endsWith("clipcmp-lock.json")
  );
  const byPath = new Map(
    Object.entries(lock).map(([key, e]) => {
      const m = /^(.+?)\/(.+?)@([^/]+)\/(.+)$/.exec(key)!;
      return [`hub/${m[1]}--${m[2]}/${m[3]}/${m[4]}`, { key, ...e }];
    }),
  );
  const rows = files.map((f) => ({
    ...f,
    sha256: byPath.get(f.path)?.sha256 ?? null,
    source: byPath.get(f.path)?.key ?? null,
  }));
  const total = rows.reduce((a, r) => a + r.size, 0);
  if (v.clear) {
    for (const sub of ["hub", "heads", "built", "unzipped", "fp16", "clipcmp-lock.json", "clipcmp-lock.json.guard"]) {
      try {
        await Deno.remove(`${dir}/${sub}`, { recursive: true });
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) continue;
        throw new ClipcmpError(`Cannot clear "${dir}/${sub}": ${firstLine(err)}`);
      }
    }
    info(`cleared ${dir}: ${rows.length} file(s), ${formatBytes(total)}`);
    return 0;
  }
  const status = await cachedModels(dir);
  if (v.json) {
    console.log(
      JSON.stringify(
        { tool: "clipcmp", version: VERSION, task: "cache", dir, models: status, files: rows, total_bytes: total },
        null,
        2,
      ),
    );
    return 0;
  }
  console.log(`Cache: ${dir}`);
  console.log("Manifest models:");
  for (const m of status) {
    const state = m.complete ? "cached" : m.present.length ? `partial (missing ${m.missing.join(", ")})` : "not cached";
    console.log(`  ${m.id.padEnd(20)} ${m.kind.padEnd(7)} ${state}`);
  }
  console.log("Files:");
  if (rows.length === 0) console.log("  (empty)");
  for (const r of rows) {
    console.log(
      `  ${formatBytes(r.size).padStart(9)}  ${
        r.sha256 ? r.sha256.slice(0, 16) + "…" : "(no hash recorded)".padEnd(17)
      }  ${r.path}`,
    );
  }
  console.log(`  ${rows.length} file(s), ${formatBytes(total)}`);
  return 0;
});
