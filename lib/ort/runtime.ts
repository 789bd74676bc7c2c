/**
 * Loads onnxruntime-web 1.30's `/webgpu` build (which carries both the `webgpu` and `wasm` EPs) and makes its
 * wasm threads work in Deno.
 *
 * ORT starts its pthread workers by fetching its own `.mjs` into a `blob:` URL, and Deno's npm loader refuses
 * to import `blob:` URLs. We intercept exactly that: a `fetch` of a local `file:` `.mjs` returns a marked empty
 * blob, and `URL.createObjectURL` of a marked blob returns the original `file:` URL, so the worker loads from
 * disk under the task's read permission.
 *
 * @module
 */
// deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
import type * as OrtModule from "npm:onnxruntime-web@1.30.0/webgpu";

/** The onnxruntime-web module type. */
export type Ort = typeof OrtModule;

let loaded: Promise<Ort> | undefined;

function installWorkerUrlFix(): void {
  const origins = new WeakMap<Blob, string>();
  const realFetch = globalThis.fetch;
  globalThis.fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (url.startsWith("file:") && url.endsWith(".mjs")) {
      const blob = new Blob([]);
      origins.set(blob, url);
      return Promise.resolve({ ok: true, status: 200, blob: () => Promise.resolve(blob) } as unknown as Response);
    }
    return realFetch(input, init);
  }) as typeof fetch;
  const realCreate = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj: Blob) => origins.get(obj) ?? realCreate(obj);
}

/**
 * Imports onnxruntime-web once, with wasm threads set to the machine's core count.
 *
 * @example
 * ```ts ignore
 * const ort = await loadOrt();
 * ```
 * @returns The module.
 */
export function loadOrt(): Promise<Ort> {
  loaded ??= (async () => {
    installWorkerUrlFix();
    // deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
    const ort = await import("npm:onnxruntime-web@1.30.0/webgpu");
    ort.env.wasm.numThreads = Math.max(1, navigator.hardwareConcurrency || 1);
    ort.env.logLevel = "error";
    return ort;
  })();
  return loaded;
}
