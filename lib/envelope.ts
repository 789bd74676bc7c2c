/**
 * The envelope every task's JSON document shares: who made it, and where it ran.
 *
 * @module
 */
import type { ResolvedDevice } from "./device.ts";
import { VERSION } from "./version.ts";

/** `{ tool, version, task }`, the first three keys of every document. */
export function docHeader<T extends string>(task: T): { tool: "clipcmp"; version: string; task: T } {
  return { tool: "clipcmp", version: VERSION, task };
}

/** Where a run happened, as every document's provenance opens. */
export interface RunPlace {
  /** When the document was made. */
  time: string;
  /** The EP the models ran on. */
  ep: string;
  /** Why that device. */
  device_reason: string;
  /** The adapter line, when an adapter was seen. */
  adapter: string | null;
}

/**
 * The opening of a document's provenance.
 *
 * @example
 * ```ts
 * import { runPlace } from "./envelope.ts";
 * const p = runPlace({ ep: "wasm", reason: "requested", adapter: null });
 * if (p.ep !== "wasm" || Number.isNaN(Date.parse(p.time))) throw new Error();
 * ```
 * @param device The resolved device.
 * @returns Time, EP, reason and adapter.
 */
export function runPlace(device: Pick<ResolvedDevice, "ep" | "reason" | "adapter">): RunPlace {
  return { time: new Date().toISOString(), ep: device.ep, device_reason: device.reason, adapter: device.adapter };
}
