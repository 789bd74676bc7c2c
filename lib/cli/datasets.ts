/**
 * `--dataset NAME=DIR` and `--shard i/n`, as compare and eval take them.
 *
 * @module
 */
import { UsageError } from "../errors.ts";

/**
 * Parses the `--dataset NAME=DIR` values, each name once. compare keeps names to letters, digits and `_ . -`;
 * eval takes any name (its outputs escape names wherever they are written, which a test checks).
 *
 * @example
 * ```ts
 * import { parseDatasets } from "./datasets.ts";
 * const [name, dir] = parseDatasets(["sketch=/data/sketch"])[0]!;
 * if (name !== "sketch" || dir !== "/data/sketch") throw new Error();
 * ```
 * @param values The flag's values.
 * @param opts `plainNames`: refuse names other than letters, digits and `_ . -` (default true).
 * @returns `[name, dir]` pairs in order.
 */
export function parseDatasets(values: readonly string[], opts: { plainNames?: boolean } = {}): [string, string][] {
  const plain = opts.plainNames ?? true;
  const seen = new Set<string>();
  return values.map((v) => {
    const i = v.indexOf("=");
    if (i <= 0 || i === v.length - 1) throw new UsageError(`--dataset must be NAME=DIR, got "${v}"`);
    const name = v.slice(0, i);
    if (plain && !/^[\w.-]+$/.test(name)) {
      throw new UsageError(`--dataset name must be letters, digits, _ . or -, got "${name}"`);
    }
    if (seen.has(name)) throw new UsageError(`--dataset name "${name}" is used twice`);
    seen.add(name);
    return [name, v.slice(i + 1)];
  });
}

/**
 * Parses `--shard i/n` (0 <= i < n).
 *
 * @example
 * ```ts
 * import { parseShard } from "./datasets.ts";
 * const s = parseShard("1/4");
 * if (!s || s[0] !== 1 || s[1] !== 4 || parseShard(undefined) !== undefined) throw new Error();
 * ```
 * @param value The flag's value, if given.
 * @returns `[i, n]`, or undefined when not given.
 */
export function parseShard(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(value);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) {
    throw new UsageError(`--shard must be i/n with 0 <= i < n, got "${value}"`);
  }
  return [Number(m[1]), Number(m[2])];
}
