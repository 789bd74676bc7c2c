/**
 * `deno task cache`: what the model cache holds, and `--clear` to empty it.
 *
 * @module
 */
import { cacheDirFlag } from "../lib/cli/models.ts";
import { info, parseFlags, runTask } from "../lib/cli/run.ts";
import { formatBytes } from "../lib/hub/progress.ts";
import { clearCache, listCache } from "../lib/tasks/cache.ts";
import { CACHE_HELP } from "../lib/cli/help.ts";

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
  if (v.clear) {
    const { files, bytes } = await clearCache(dir);
    info(`cleared ${dir}: ${files} file(s), ${formatBytes(bytes)}`);
    return 0;
  }
  const doc = await listCache(dir);
  if (v.json) {
    console.log(JSON.stringify(doc, null, 2));
    return 0;
  }
  const { models: status, files: rows, total_bytes: total } = doc;
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
