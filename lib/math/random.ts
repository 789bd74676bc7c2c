/**
 * A seeded pseudo-random generator, for what must reproduce from a seed: the report's bootstrap, the tests'
 * property checks.
 *
 * @module
 */

/**
 * A seeded 32-bit generator (mulberry32), uniform in [0, 1).
 *
 * @example
 * ```ts
 * import { seededRandom } from "./random.ts";
 * const a = seededRandom(3), b = seededRandom(3);
 * if (a() !== b() || a() < 0 || a() >= 1) throw new Error();
 * ```
 * @param seed Any 32-bit integer.
 * @returns The generator.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
