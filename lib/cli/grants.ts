/**
 * The permissions each task runs with, computed from its arguments and environment: the cache it will use, the
 * output locations it will write, the hub or mirror it will contact. `deno task X` starts the launcher
 * (`lib/cli/launch.ts`), which reads these and runs the task's script with exactly those grants, from the folder
 * the user stands in. So every documented cache location and every `--hub-url` works under `deno task`, and
 * nothing else is granted.
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheDir } from "../models/locate.ts";
import { HUB_HOSTS } from "../hub/hosts.ts";

/** Environment every model task may read: where the cache is, the hub, the manifest override, fault injection. */
const MODEL_ENV = [
  "HOME",
  "XDG_CACHE_HOME",
  "CLIPCMP_CACHE_DIR",
  "LOCALAPPDATA",
  "USERPROFILE",
  "HF_ENDPOINT",
  "CLIPCMP_MANIFEST",
  "CLIPCMP_FAULTS",
];

/** What a task touches, beyond reading files. */
export interface TaskProfile {
  /** The script under `parts/`. */
  script: string;
  /** Whether it uses the model cache (write access to it). */
  cache: boolean;
  /** Whether it may download models (network access to the hub or the mirror). */
  net: boolean;
  /** Flags whose value is an output directory. */
  outDirs?: string[];
  /** Flags whose value is an output file (its folder is granted, for the atomic rename). */
  outFiles?: string[];
  /** The output written when no output flag is given, relative to the caller's folder. */
  defaultOut?: { dir: string; unless?: string };
  /** Environment variables it reads. */
  env: string[];
}

/** Every task the launcher runs. */
export const PROFILES: Record<string, TaskProfile> = {
  compare: {
    script: "compare.ts",
    cache: true,
    net: true,
    outDirs: ["--out"],
    defaultOut: { dir: "reports", unless: "--no-report" },
    env: MODEL_ENV,
  },
  eval: {
    script: "eval.ts",
    cache: true,
    net: true,
    outDirs: ["--out"],
    defaultOut: { dir: "reports" },
    env: MODEL_ENV,
  },
  shift: {
    script: "shift.ts",
    cache: true,
    net: true,
    outDirs: ["--out"],
    defaultOut: { dir: "reports" },
    env: MODEL_ENV,
  },
  preprocess: {
    script: "preprocess.ts",
    cache: false,
    net: false,
    outFiles: ["--out"],
    defaultOut: { dir: "out" },
    env: ["CLIPCMP_FAULTS"],
  },
  zeroshot: { script: "zeroshot.ts", cache: true, net: true, env: MODEL_ENV },
  fp16: { script: "fp16.ts", cache: true, net: true, env: MODEL_ENV },
  params: { script: "params.ts", cache: true, net: true, env: MODEL_ENV },
  tokenize: { script: "tokenize.ts", cache: true, net: true, env: MODEL_ENV },
  cache: { script: "cache.ts", cache: true, net: false, env: MODEL_ENV },
};

/** The environment variables the launcher itself reads (a subset of what the tasks read, plus `INIT_CWD`). */
export const LAUNCHER_ENV: readonly string[] = [
  "INIT_CWD",
  ...MODEL_ENV.filter((v) => v !== "CLIPCMP_MANIFEST" && v !== "CLIPCMP_FAULTS"),
];

/** Every value given to `flag` in `args` (`--flag v` or `--flag=v`), stopping at `--`. */
export function flagValues(args: readonly string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") break;
    if (a === flag && i + 1 < args.length) out.push(args[++i]!);
    else if (a.startsWith(`${flag}=`)) out.push(a.slice(flag.length + 1));
  }
  return out;
}

/** Whether `flag` (a boolean flag) is among `args`. */
function hasFlag(args: readonly string[], flag: string): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes(flag);
}

/**
 * The host name of a hub URL, any port (the downloader follows the hub's redirects to its own host on any port, as
 * a mirror with a separate file server needs), or undefined when it is not an http(s) URL (the task says so).
 */
export function hubHost(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" ? u.hostname : undefined;
  } catch {
    return undefined;
  }
}

/** The inputs of {@linkcode taskGrants}. */
export interface GrantContext {
  /** The folder relative paths are resolved against (the user's, from `INIT_CWD`). */
  cwd: string;
  /** Reads an environment variable (undefined when unset or empty). */
  env: (name: string) => string | undefined;
  /** The operating system whose default cache location applies (default: this one). */
  os?: typeof Deno.build.os;
}

/**
 * The `deno run` permission flags for `task` with `args`.
 *
 * @example
 * ```ts
 * import { taskGrants } from "./grants.ts";
 * const flags = taskGrants("cache", ["--cache-dir", "/data/models"], { cwd: "/home/me", env: () => undefined });
 * if (!flags.includes("--allow-write=/data/models")) throw new Error(flags.join(" "));
 * ```
 * @param task A key of {@linkcode PROFILES}.
 * @param args The task's arguments.
 * @param ctx Where it runs and its environment.
 * @returns The flags, `--no-prompt` first.
 */
export function taskGrants(task: string, args: readonly string[], ctx: GrantContext): string[] {
  const p = PROFILES[task];
  if (!p) throw new Error(`no task profile for ${task}`);
  const abs = (path: string) => isAbsolute(path) ? path : resolve(ctx.cwd, path);
  const writes: string[] = [];
  if (p.cache) {
    const flag = flagValues(args, "--cache-dir").at(-1);
    try {
      writes.push(abs(cacheDir(flag, ctx.env, ctx.os)));
    } catch {
      // no cache location at all: the task says so itself, with the flag to pass
    }
  }
  const dirs = (p.outDirs ?? []).flatMap((f) => flagValues(args, f)).map(abs);
  const files = (p.outFiles ?? []).flatMap((f) => flagValues(args, f)).map((f) => dirname(abs(f)));
  writes.push(...dirs, ...files);
  if (!dirs.length && !files.length && p.defaultOut && !(p.defaultOut.unless && hasFlag(args, p.defaultOut.unless))) {
    writes.push(abs(p.defaultOut.dir));
  }
  const flags = ["--no-prompt", "--allow-read"];
  if (writes.length) flags.push(`--allow-write=${[...new Set(writes)].join(",")}`);
  if (p.net && !hasFlag(args, "--offline")) {
    const hosts: string[] = [...HUB_HOSTS];
    const mirror = flagValues(args, "--hub-url").at(-1) ?? ctx.env("HF_ENDPOINT");
    const host = mirror === undefined ? undefined : hubHost(mirror);
    if (host && !hosts.includes(host)) hosts.push(host);
    flags.push(`--allow-net=${hosts.join(",")}`);
  }
  if (p.env.length) flags.push(`--allow-env=${p.env.join(",")}`);
  return flags;
}

const PARTS = fileURLToPath(new URL("../../parts/", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/**
 * The `deno` arguments that run `task` with `args` under exactly its grants: what the launcher runs.
 *
 * @param task A key of {@linkcode PROFILES}.
 * @param args The task's arguments.
 * @param ctx Where it runs and its environment.
 * @returns `run --config … <grants> <script> <args>`.
 */
export function taskArgv(task: string, args: readonly string[], ctx: GrantContext): string[] {
  return ["run", "--config", CONFIG, ...taskGrants(task, args, ctx), `${PARTS}${PROFILES[task]!.script}`, ...args];
}
