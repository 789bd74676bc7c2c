// Child process for the parallel-download test: downloads one file and prints its path.
import { ensureFile } from "../lib/hub/download.ts";

const [endpoint, cacheDir, repo, path] = Deno.args;
const got = await ensureFile(
  { repo: repo!, revision: "main", path: path! },
  { endpoint: endpoint!, cacheDir: cacheDir!, offline: false, progress: () => ({ update() {}, finish() {} }) },
);
console.log(got);
