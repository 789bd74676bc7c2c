/**
 * Error classes that carry the process exit code of the CLI conventions (docs/CLI.md): 1 for a model, setup
 * or I/O failure, 2 for a usage error. Messages are one line, in sentence case, naming the file or flag.
 *
 * @module
 */

/** A mistake in how a command was called: an unknown flag, a bad value, flags that exclude each other. */
export class UsageError extends Error {
  /** Exit code for usage errors. */
  readonly exitCode = 2;
  /**
   * @param message One line naming the flag, e.g. `--device must be auto, webgpu or wasm, got "gpu"`.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure the user can fix but that is not a usage error: a missing model, an unreadable image. */
export class ClipcmpError extends Error {
  /** Exit code for model, setup and I/O errors. */
  readonly exitCode = 1;
  /**
   * @param message One line naming the file, e.g. `Cannot read model "x.onnx": not found`.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClipcmpError";
  }
}

/** The first line of an error's message, without a trailing period: for one-line reports. */
export function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return (msg.split("\n").find((l) => l.trim() !== "") ?? "unknown error").trim().replace(/\.$/, "");
}
