/**
 * Test helpers: a shared GPU (or a visible skip reason), validation-error scopes, fixture paths, and running
 * tasks as subprocesses with exactly the permission flags `deno.json` declares.
 *
 * @module
 */
import { type GpuContext, requestGpu } from "../lib/gpu/context.ts";
import { taskArgv } from "../lib/cli/grants.ts";
import { exitStatus } from "../lib/cli/launch.ts";

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const FIX = `${ROOT}/models/fixtures`;

/** The tiny CLIP and ResNet fixtures as model flags, for tasks that run both. */
export const TINY_MODELS: readonly string[] = [
  "--clip",
  "models/fixtures/clip-tiny",
  "--resnet",
  "models/fixtures/resnet-tiny",
];

/** Reference outputs written by tools/gen_fixtures.py (PyTorch + PIL, independent of the code under test). */
export interface Refs {
  images: string[];
  labels: { index: number; wnid: string; name: string }[];
  min_gap: number;
  resnet: { logits: number[][] };
  clip: {
    prompts: string[];
    text_ids: number[][];
    image_embeddings: number[][];
    text_embeddings: number[][];
    logits: number[][];
  };
  tokenizer: { text: string; ids: number[] }[];
  params: { resnet: number; clip_visual: number; clip_textual: number };
}

export const refs: Refs = JSON.parse(await Deno.readTextFile(`${FIX}/refs.json`));

let gpuPromise: Promise<GpuContext | null> | undefined;
/** One GPU context per test process. */
export function sharedGpu(): Promise<GpuContext | null> {
  gpuPromise ??= requestGpu();
  return gpuPromise;
}

/** Whether a WebGPU adapter exists; when not, GPU tests are ignored and say why once. */
export const HAS_GPU = await (async () => {
  const gpu = await sharedGpu();
  if (!gpu) console.warn("SKIP GPU tests: no WebGPU adapter (install mesa-vulkan-drivers for llvmpipe)");
  return gpu !== null;
})();

/** Whether the adapter has shader-f16 and the self-test passed; f16 tests are ignored otherwise. */
export const HAS_F16 = await (async () => {
  const gpu = await sharedGpu();
  if (gpu && !gpu.summary.f16) console.warn(`SKIP f16 GPU tests: ${gpu.summary.f16Reason}`);
  return gpu?.summary.f16 ?? false;
})();

/**
 * Runs `fn` with the shared device inside a validation error scope: any validation error fails the test.
 */
export async function withDevice<T>(fn: (gpu: GpuContext) => Promise<T>): Promise<T> {
  const gpu = (await sharedGpu())!;
  gpu.device.pushErrorScope("validation");
  gpu.device.pushErrorScope("out-of-memory");
  let result: T | undefined;
  let failure: unknown;
  try {
    result = await fn(gpu);
  } catch (err) {
    failure = err;
  }
  const oom = await gpu.device.popErrorScope();
  const val = await gpu.device.popErrorScope();
  if (val) throw new Error(`WebGPU validation error: ${val.message}`);
  if (oom) throw new Error(`WebGPU out-of-memory error: ${oom.message}`);
  if (failure !== undefined) throw failure;
  return result as T;
}

/** Max |a - b| over two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A seeded PRNG (mulberry32), so property tests are reproducible. */
export { seededRandom as rng } from "../lib/math/random.ts";

/** A fresh directory under tests/.tmp (the only place tests may write). */
export async function tempDir(): Promise<string> {
  await Deno.mkdir(`${ROOT}/tests/.tmp`, { recursive: true });
  return await Deno.makeTempDir({ dir: `${ROOT}/tests/.tmp` });
}

const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));

/** The command line of a task in deno.json. */
export function taskCommand(name: string): string {
  const t = denoJson.tasks[name];
  if (!t) throw new Error(`no task ${name}`);
  return typeof t === "string" ? t : t.command;
}

/** Every task's name and command. */
export function allTasks(): [string, string][] {
  return Object.keys(denoJson.tasks).map((k) => [k, taskCommand(k)]);
}

/** A task's command line as `deno task` runs it: its words, with `$VARS` expanded from `env`. */
function declaredCommand(name: string, env: Record<string, string>): string[] {
  return taskCommand(name).split(/\s+/).map((w) => w.replace(/\$(\w+)/g, (_, v: string) => env[v] ?? ""));
}

/**
 * The environment of a task run by a test: a private HOME under tests/.tmp, so the tests never touch the user's
 * model cache (Deno's own cache stays where it is), no cache override, no colour, then `extra`.
 */
export async function privateEnv(extra: Record<string, string>): Promise<Record<string, string>> {
  const realHome = Deno.env.get("HOME") ?? "";
  const home = `${ROOT}/tests/.tmp/home`;
  await Deno.mkdir(home, { recursive: true });
  // INIT_CWD is the folder `deno task` was started from, and an outer `deno task test` already set it: a nested
  // `deno task` keeps an inherited one (as npm does), so pass none, as a user's shell would.
  const { INIT_CWD: _, ...inherited } = Deno.env.toObject();
  return {
    ...inherited,
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${realHome}/.cache/deno`,
    HOME: home,
    XDG_CACHE_HOME: "",
    CLIPCMP_CACHE_DIR: "",
    XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
    NO_COLOR: "1",
    ...extra,
  };
}

/** Result of running a task. */
export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a `deno run ...` task with exactly its declared flags and extra arguments, from the repo root.
 */
export async function runTaskCli(name: string, args: string[], env: Record<string, string> = {}): Promise<TaskRun> {
  const childEnv = await privateEnv(env);
  const words = declaredCommand(name, childEnv);
  if (words[0] !== "deno" || words[1] !== "run") throw new Error(`task ${name} is not a deno run task`);
  // "deno" by name, so that `--allow-run=deno` (resolved through PATH) covers it.
  const cmd = new Deno.Command("deno", {
    args: [...words.slice(1), ...args],
    cwd: ROOT,
    env: childEnv,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  });
  // A watchdog: a task that hangs fails its test with what it printed, rather than stalling the whole suite.
  const child = cmd.spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, CHILD_TIMEOUT_S * 1000);
  const out = await child.output().finally(() => clearTimeout(timer));
  const dec = new TextDecoder();
  const stderr = dec.decode(out.stderr) + (killed ? `\n[test watchdog: killed after ${CHILD_TIMEOUT_S} s]` : "");
  return { code: out.code, stdout: dec.decode(out.stdout), stderr };
}

/** How long {@linkcode runTaskCli} lets a task run before killing it (a hang, not a slow run: tasks here take seconds). */
export const CHILD_TIMEOUT_S = (() => {
  try {
    return Number(Deno.env.get("CLIPCMP_TEST_CHILD_TIMEOUT_S") ?? 600);
  } catch {
    return 600; // no --allow-env: the default
  }
})();

/**
 * Runs `deno task -q NAME ARGS` as a user would, from `cwd` (a folder of the repository), with a private HOME.
 *
 * @param name The task.
 * @param args Its arguments, relative to `cwd`.
 * @param opts The folder to run from (default the repository root) and extra environment.
 * @returns Its exit code and output.
 */
export async function runDenoTask(
  name: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<TaskRun> {
  const out = await new Deno.Command("deno", {
    args: ["task", "-q", name, ...args],
    cwd: opts.cwd ?? ROOT,
    env: await privateEnv(opts.env ?? {}),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Starts a task with exactly its declared flags (as {@linkcode runTaskCli} does), reads its stderr until `until`
 * matches, then kills it with SIGKILL: for kill-and-rerun tests.
 *
 * @param name The task.
 * @param args Its arguments.
 * @param env Extra environment.
 * @param until What to wait for on stderr.
 * @returns The stderr seen before the kill.
 */
export async function killTaskWhen(
  name: string,
  args: string[],
  env: Record<string, string>,
  until: RegExp,
): Promise<string> {
  return (await signalTaskWhen(name, args, env, until, "SIGKILL")).seen;
}

/**
 * Starts a task as {@linkcode killTaskWhen} does, sends `signal` once stderr matches `until`, and waits for it to
 * end.
 *
 * @returns The stderr before the signal (`seen`), all of it (`stderr`), and the exit code.
 */
export async function signalTaskWhen(
  name: string,
  args: string[],
  env: Record<string, string>,
  until: RegExp,
  signal: Deno.Signal,
): Promise<{ seen: string; stderr: string; code: number }> {
  const childEnv = await privateEnv(env);
  // A launcher task is started the way the launcher starts it (the same grants), so the signal hits the task itself.
  const command = taskCommand(name);
  const argv = command.endsWith(`lib/cli/launch.ts ${name}`)
    ? taskArgv(name, args, { cwd: ROOT, env: (v) => childEnv[v] || undefined })
    : [...declaredCommand(name, childEnv).slice(1), ...args];
  const child = new Deno.Command("deno", {
    args: argv,
    cwd: ROOT,
    env: childEnv,
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!until.test(seen)) {
    const r = await reader.read();
    if (r.done) break;
    seen += r.value;
  }
  try {
    child.kill(signal);
  } catch {
    // it already ended
  }
  let rest = "";
  if (signal === "SIGKILL") await reader.cancel().catch(() => {});
  else {
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value;
  }
  return { seen, stderr: seen + rest, code: exitStatus(await child.status) };
}
