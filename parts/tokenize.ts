/**
 * `deno task tokenize`: CLIP token ids of any texts, padded to 77.
 *
 * @module
 */
import { cacheDirFlag } from "../lib/cli/models.ts";
import { info, parseFlags, runTask } from "../lib/cli/run.ts";
import { UsageError } from "../lib/errors.ts";
import { ClipTokenizer } from "../lib/text/tokenizer.ts";
import { DEFAULT_ENDPOINT, ensureFile } from "../lib/hub/download.ts";
import { manifest } from "../lib/models/manifest.ts";
import { VERSION } from "../lib/version.ts";

/** The tokenizer shipped with clipcmp, built from CLIP's BPE merges by tools/gen_fixtures.py. */
export const SHIPPED_TOKENIZER = new URL("../models/clip-tokenizer/tokenizer.json", import.meta.url).pathname;

const HELP = `clipcmp tokenize: CLIP token ids of texts, padded with zeros to 77

Usage: deno task tokenize [--clip DIR|NAME] [--json] TEXT ...

  --clip DIR|NAME   use that model's textual/tokenizer.json (a directory, or a manifest name whose tokenizer
                    files are fetched into the cache); default: the CLIP BPE tokenizer shipped with clipcmp
  --offline, --cache-dir DIR, --hub-url URL   as for the other tasks
  --json            { "results": [{ "text", "ids" }] } on stdout
  -h, --help        this help

It follows the Hugging Face tokenizer.json that real model directories ship: NFC, whitespace runs to one space,
lower case, CLIP's split regex, byte-level BPE with </w>. Unlike OpenAI's Python tokenizer it does not run ftfy
or unescape HTML entities ("&amp;" stays three tokens' worth of text). Texts over 77 tokens are cut to 77 with
<|endoftext|> kept last, and a warning.`;

runTask("tokenize", async (args) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      clip: { type: "string" },
      json: { type: "boolean", default: false },
      offline: { type: "boolean", default: false },
      "cache-dir": { type: "string" },
      "hub-url": { type: "string" },
    },
    true,
    HELP,
  );
  if (positionals.length === 0) throw new UsageError("give at least one text to tokenize");
  let path = SHIPPED_TOKENIZER;
  const clip = v.clip;
  if (clip !== undefined) {
    const entry = manifest()[clip];
    const isDir = await Deno.stat(clip).then((s) => s.isDirectory, () => false);
    if (entry?.kind === "clip" && !isDir) {
      const hub = {
        endpoint: v["hub-url"] ?? DEFAULT_ENDPOINT,
        cacheDir: cacheDirFlag(v),
        offline: v.offline,
      };
      for (const f of ["textual/tokenizer_config.json", "textual/tokenizer.json"]) {
        path = await ensureFile({ repo: entry.repo, revision: entry.revision, path: f }, hub);
      }
    } else path = `${clip}/textual/tokenizer.json`;
  }
  const tok = await ClipTokenizer.load(path);
  const results = positionals.map((text) => {
    const { ids, truncated } = tok.encode(text);
    if (truncated) info(`warning: "${text.slice(0, 40)}…" is over 77 tokens; truncated with <|endoftext|> kept last`);
    return { text, ids };
  });
  if (v.json) {
    console.log(
      JSON.stringify({ tool: "clipcmp", version: VERSION, task: "tokenize", tokenizer: path, results }, null, 2),
    );
  } else for (const r of results) console.log(`${JSON.stringify(r.text)}\n  ${r.ids.join(" ")}`);
  return 0;
});
