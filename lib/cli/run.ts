/**
 * Shared entry point for every task: runs the command, turns errors into one-line messages on stderr and the
 * exit codes of docs/CLI.md (0 done, 1 model/setup/I/O error, 2 usage error). No stack traces for errors a user
 * can cause.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ClipcmpError, firstLine, UsageError } from "../errors.ts";
import { plainText } from "../report/escape.ts";

/**
 * Writes one line to stderr. All human messages go to stderr so that `--json` stdout stays one document. Control
 * characters (from file names or file contents quoted in a message) are shown as `\xNN`, never sent raw to the
 * terminal.
 */
export function info(line: string): void {
  console.error(plainText(line));
}

/** Exit status of a task stopped by Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

/**
 * Runs `main` as the body of a task named `task`, mapping errors to exit codes.
 *
 * Ctrl-C: a task that passes `interruptible` gets an `AbortSignal`; the first Ctrl-C aborts it (the task finishes
 * its current step, writes what is done and says so), a second one stops at once. Any other task stops at once,
 * saying that nothing was written. Either way the exit status is 130.
 *
 * @example Run a task
 * ```ts ignore
 * await runTask("compare", async (args, signal) => { return 0; }, { interruptible: true });
 * ```
 * @param task The task name used in messages.
 * @param main The task body; it returns the exit code.
 * @param opts Whether the task handles an interruption itself.
 */
export async function runTask(
  task: string,
  main: (args: string[], signal: AbortSignal) => Promise<number>,
  opts: { interruptible?: boolean } = {},
): Promise<never> {
  const interrupt = new AbortController();
  const onSigint = () => {
    if (opts.interruptible && !interrupt.signal.aborted) {
      interrupt.abort();
      info(
        `clipcmp ${task}: interrupted: finishing the current step and keeping what is done (Ctrl-C again stops now)`,
      );
      return;
    }
    info(`clipcmp ${task}: interrupted${opts.interruptible ? " again: stopped now" : ""}; nothing more was written`);
    Deno.exit(EXIT_INTERRUPTED);
  };
  try {
    Deno.addSignalListener("SIGINT", onSigint);
  } catch {
    // no signal support here (some Windows consoles): Ctrl-C then ends the process as usual
  }
  let code: number;
  try {
    code = await main(Deno.args, interrupt.signal);
  } catch (err) {
    if (err instanceof HelpShown) {
      code = 0;
    } else if (err instanceof UsageError) {
      info(`clipcmp ${task}: ${err.message} (see --help)`);
      code = 2;
    } else if (err instanceof ClipcmpError) {
      info(`clipcmp ${task}: ${err.message}`);
      code = 1;
    } else if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      info(`clipcmp ${task}: permission denied: ${firstLine(err)}`);
      code = 1;
    } else {
      info(`clipcmp ${task}: internal error: ${firstLine(err)}`);
      code = 1;
    }
  }
  Deno.exit(code);
}

/**
 * The values {@linkcode parseFlags} returns, typed from its option table: a string flag is a `string` (with a
 * default) or `string | undefined`, a repeatable one a `string[] | undefined`, a boolean one a `boolean` (with a
 * default) or `boolean | undefined`.
 */
export type FlagValues<T> = {
  -readonly [K in keyof T]: T[K] extends { type: "boolean" }
    ? (T[K] extends { multiple: true } ? boolean[] | undefined : T[K] extends { default: boolean } ? boolean
    : boolean | undefined)
    : T[K] extends { multiple: true } ? string[] | undefined
    : T[K] extends { default: string } ? string
    : string | undefined;
};

/**
 * `node:util` parseArgs with strict checking, turning its errors into a {@linkcode UsageError}.
 *
 * @param args The command-line arguments.
 * @param options The parseArgs option table.
 * @param allowPositionals Whether positional arguments are accepted.
 * @param help The task's help text: `-h`/`--help` is then accepted, prints it, and ends the task with exit 0.
 * @returns The parsed values and positionals.
 */
export function parseFlags<const T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = false,
  help?: string,
): { values: FlagValues<T>; positionals: string[] } {
  const table = help === undefined ? options : { ...options, help: { type: "boolean", short: "h", default: false } };
  let parsed;
  try {
    parsed = parseArgs({ args, options: table as T, allowPositionals, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(firstLine(err).replace(/^TypeError( \[[A-Z_]+\])?: /, ""));
  }
  // A flag that takes one value, given twice (`--clip A --clip B`), is a mistake: say so rather than take the last.
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== "option") continue;
    const spec = (table as Record<string, { type: string; multiple?: boolean }>)[t.name];
    if (!spec || spec.multiple || spec.type !== "string") continue;
    if (seen.has(t.name)) throw new UsageError(`--${t.name} is given more than once; give it once`);
    seen.add(t.name);
  }
  const values = parsed.values as unknown as FlagValues<T> & { help?: boolean };
  if (help !== undefined && values.help) {
    console.log(help);
    throw new HelpShown();
  }
  return { values, positionals: parsed.positionals };
}

/** Thrown by {@linkcode parseFlags} once it has printed `--help`; {@linkcode runTask} then exits 0. */
class HelpShown extends Error {}

/**
 * Validates that `value` is one of `choices`, for flags like `--device`.
 *
 * @param flag The flag name, e.g. `--device`.
 * @param value The given value.
 * @param choices The accepted values.
 * @returns The value, typed as one of the choices.
 */
export function oneOf<C extends string>(flag: string, value: string, choices: readonly C[]): C {
  if ((choices as readonly string[]).includes(value)) return value as C;
  throw new UsageError(`${flag} must be ${choices.join(", ").replace(/, ([^,]*)$/, " or $1")}, got "${value}"`);
}

/**
 * Parses a positive integer flag.
 *
 * @example
 * ```ts
 * import { positiveInt } from "./run.ts";
 * if (positiveInt("--batch", "16") !== 16 || positiveInt("--limit", undefined) !== undefined) throw new Error();
 * ```
 * @param flag The flag name, e.g. `--batch`.
 * @param value The given value, or undefined when the flag is absent.
 * @returns The number, or undefined when absent.
 */
export function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return n;
}
