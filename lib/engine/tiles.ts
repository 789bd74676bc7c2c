/**
 * Which GEMM tiles the engine uses on which adapter: the best set measured on each (by `bench/gemm_bench.ts` and
 * the device script's tile sweep), matched on the adapter's name, and the kernel's safe default elsewhere.
 *
 * @example
 * ```ts
 * import { tilesForAdapter } from "./tiles.ts";
 * if (tilesForAdapter("llvmpipe (LLVM 15.0.6, 256 bits)").m !== 64) throw new Error();
 * if (tilesForAdapter("Some Future GPU").k !== 16) throw new Error();
 * ```
 *
 * @module
 */
import { DEFAULT_GEMM_TILES, type GemmTiles } from "../../kernels/gemm.ts";

/** Measured best tiles by adapter name, first match wins. Add a row only with a measurement behind it. */
export const GEMM_TILE_TABLE: readonly { adapter: RegExp; tiles: GemmTiles; measured: string }[] = [
  // docs/BENCHMARKS.md 2026-12-03: 64x64x16 beat 32x32x8 by 1.34-1.55x at three real layer shapes.
  { adapter: /llvmpipe/i, tiles: { m: 64, n: 64, k: 16 }, measured: "2026-12-03, bench/gemm_bench.ts" },
];

/**
 * The tiles for an adapter.
 *
 * @param name The adapter's name (`GpuContext.summary.name`).
 * @returns The measured best set, or the default.
 */
export function tilesForAdapter(name: string): GemmTiles {
  return GEMM_TILE_TABLE.find((r) => r.adapter.test(name))?.tiles ?? DEFAULT_GEMM_TILES;
}

/**
 * The adapter's tiles shrunk to a small product: a tile edge never exceeds the next power of two (at least 4)
 * above the matrix's own, so a 77 × 8 attention product or a batch-1 classifier row does not leave most of a
 * 64 × 64 workgroup idle.
 *
 * @example
 * ```ts
 * import { fitTiles } from "./tiles.ts";
 * const t = fitTiles({ m: 64, n: 64, k: 16 }, 77, 8);
 * if (t.m !== 64 || t.n !== 8 || t.k !== 16) throw new Error(JSON.stringify(t));
 * if (fitTiles({ m: 64, n: 64, k: 16 }, 1, 1000).m !== 4) throw new Error();
 * ```
 */
export function fitTiles(base: GemmTiles, m: number, n: number): GemmTiles {
  const edge = (size: number, max: number) => {
    let e = 4;
    while (e < size && e < max) e *= 2;
    return Math.min(e, max);
  };
  return { m: edge(m, base.m), n: edge(n, base.n), k: base.k };
}
