/**
 * What WGSL cannot express by itself: the element types of a kernel's tensors. Kernels declare
 * `alias elem = f32;` (and, for kernels whose input and output types differ, other `alias NAME = f32;` lines)
 * and this swaps in the wanted type, enabling the f16 extension when any alias becomes f16.
 *
 * @module
 */

/** Element type of tensors a kernel reads or writes. */
export type ElemType = "f32" | "f16";

/** Element types the engine keeps on the GPU: floats, and i32 for token ids and indices. */
export type GpuType = ElemType | "i32";

/**
 * Specialises a kernel source for an element type.
 *
 * @example
 * ```ts
 * import { specialize } from "./_specialize.ts";
 * const src = specialize("alias elem = f32;\n", "f16");
 * if (!src.startsWith("enable f16;") || !src.includes("alias elem = f16;")) throw new Error(src);
 * ```
 * @param src WGSL with an `alias elem = f32;` line.
 * @param elem The element type.
 * @returns The specialised source.
 */
export function specialize(src: string, elem: GpuType): string {
  return specializeAliases(src, { elem });
}

/**
 * Specialises several `alias NAME = f32;` lines at once.
 *
 * @example
 * ```ts
 * import { specializeAliases } from "./_specialize.ts";
 * const src = specializeAliases("alias ein = f32;\nalias eout = f32;\n", { ein: "i32", eout: "f16" });
 * if (!src.includes("alias ein = i32;") || !src.includes("alias eout = f16;") || !src.startsWith("enable f16;")) {
 *   throw new Error(src);
 * }
 * ```
 * @param src WGSL with one `alias NAME = f32;` line per name.
 * @param types Name to type.
 * @returns The specialised source.
 */
export function specializeAliases(src: string, types: Readonly<Record<string, GpuType>>): string {
  let out = src;
  for (const [name, type] of Object.entries(types)) {
    const line = `alias ${name} = f32;`;
    if (!out.includes(line)) throw new TypeError(`Kernel source has no \`${line}\` line`);
    out = out.replace(line, `alias ${name} = ${type};`);
  }
  return Object.values(types).includes("f16") ? `enable f16;\n${out}` : out;
}

/** Bytes per element. */
export function elemBytes(elem: GpuType): number {
  return elem === "f16" ? 2 : 4;
}
