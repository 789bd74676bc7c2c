/**
 * What WGSL cannot express by itself: the element type of a kernel's tensors. Kernels declare
 * `alias elem = f32;` and this swaps in f16 (enabling the extension) when asked.
 *
 * @module
 */

/** Element type of tensors a kernel reads or writes. */
export type ElemType = "f32" | "f16";

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
export function specialize(src: string, elem: ElemType): string {
  if (!src.includes("alias elem = f32;")) throw new TypeError("Kernel source has no `alias elem = f32;` line");
  if (elem === "f32") return src;
  return `enable f16;\n${src.replace("alias elem = f32;", "alias elem = f16;")}`;
}

/** Bytes per element. */
export function elemBytes(elem: ElemType): number {
  return elem === "f16" ? 2 : 4;
}
