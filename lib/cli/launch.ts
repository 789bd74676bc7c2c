/**
 * The launcher behind `deno task X`: it works out what task X will touch (the cache location from `--cache-dir`,
 * `$CLIPCMP_CACHE_DIR`, `$XDG_CACHE_HOME` or the platform default; the output location from `--out`; the mirror
 * from `--hub-url` or `$HF_ENDPOINT`) and runs `parts/X.ts` with exactly those grants and `--no-prompt`, from the
 * folder the user stands in (`INIT_CWD`), so relative paths mean what the user typed.
 *
 * Usage: `deno run --allow-read --allow-env=<LAUNCHER_ENV> --allow-run=deno lib/cli/launch.ts TASK [ARGS...]`
 *
 * Ctrl-C reaches both processes (one process group); the launcher waits for the task to finish what it keeps and
 * exits with its status.
 *
 * @module
 */
import { PROFILES, taskArgv } from "./grants.ts";
import { envVar } from "../models/locate.ts";

async function main(): Promise<number> {
  const [task, ...args] = Deno.args;
  const profile = task === undefined ? undefined : PROFILES[task];
  if (!profile) {
    console.error(`clipcmp: unknown task "${task ?? ""}"; the tasks are ${Object.keys(PROFILES).join(", ")}`);
    return 2;
  }
  const cwd = envVar("INIT_CWD") ?? Deno.cwd();
  const onSigint = () => {}; // the task gets the same SIGINT and decides what to keep; we wait for it
  Deno.addSignalListener("SIGINT", onSigint);
  try {
    const child = new Deno.Command("deno", {
      args: taskArgv(task!, args, { cwd, env: envVar }),
      cwd,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return exitStatus(await child.status);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      console.error(`clipcmp ${task}: cannot start "deno": it is not on PATH; add Deno's folder to PATH`);
      return 1;
    }
    throw err;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}

/** A child's status as a shell reports it: its exit code, or 128 + the number of the signal that ended it. */
export function exitStatus(status: Deno.CommandStatus): number {
  if (!status.signal) return status.code;
  return 128 +
    (({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[status.signal] ?? 1);
}

if (import.meta.main) Deno.exit(await main());
