/**
 * A pool of Workers that decode image files off the main thread, so decoding overlaps with GPU work and scales
 * with the machine's cores. Each worker runs the same decoders as {@linkcode decodeImageFile} (identical pixels)
 * and transfers the RGBA buffer back without a copy.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";
import type { DecodeOptions, RgbaImage } from "./decode.ts";

/**
 * The web `Worker`, taken when this module loads: once onnxruntime-web starts its wasm threads, Deno's Node
 * compatibility layer has replaced `globalThis.Worker` with a Node-style worker whose `onmessage` never fires.
 */
const WebWorker = globalThis.Worker;

interface Pending {
  resolve: (img: RgbaImage) => void;
  reject: (err: Error) => void;
  path: string;
}

interface Slot {
  worker: Worker;
  /** Requests sent to this worker and not answered yet. */
  pending: Map<number, Pending>;
  /** Whether it has answered at least once. */
  answered: boolean;
}

/**
 * Workers to start on this machine: one per core but one (the main thread drives the GPU), at least one, at
 * most 16.
 *
 * @example
 * ```ts
 * import { defaultPoolSize } from "./pool.ts";
 * if (defaultPoolSize(2) !== 1 || defaultPoolSize(16) !== 15 || defaultPoolSize(64) !== 16) throw new Error();
 * ```
 * @param cores Logical cores (default `navigator.hardwareConcurrency`).
 * @returns The pool size.
 */
export function defaultPoolSize(cores: number = navigator.hardwareConcurrency || 1): number {
  return Math.max(1, Math.min(16, cores - 1));
}

/** Decodes image files on worker threads. Close it when done (it keeps the process alive otherwise). */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private closed = false;
  private broken: string | undefined;

  /**
   * Starts the workers.
   *
   * @example Decode two files in parallel
   * ```ts ignore
   * using pool = new DecodePool();
   * const [a, b] = await Promise.all([pool.decode("a.jpg"), pool.decode("b.png")]);
   * ```
   * @param size Worker count (default {@linkcode defaultPoolSize}).
   * @param options EXIF and alpha handling for every file.
   */
  constructor(readonly size: number = defaultPoolSize(), private readonly options: DecodeOptions = {}) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`Pool size must be a positive integer, got ${size}`);
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new WebWorker(new URL("./decode_worker.ts", import.meta.url), {
      type: "module",
      name: "clipcmp decode",
    });
    const slot: Slot = { worker, pending: new Map(), answered: false };
    worker.onmessage = (e: MessageEvent) => {
      const msg = e.data as { id: number; error?: string; width: number; height: number; data: Uint8Array };
      slot.answered = true;
      const p = slot.pending.get(msg.id);
      if (!p) return;
      slot.pending.delete(msg.id);
      if (msg.error !== undefined) p.reject(new ClipcmpError(msg.error));
      else p.resolve({ width: msg.width, height: msg.height, data: msg.data });
    };
    worker.onerror = (e: ErrorEvent) => {
      // A crashed worker (out of memory in the decoder, say) fails what it held and is replaced.
      e.preventDefault();
      for (const p of slot.pending.values()) {
        p.reject(new ClipcmpError(`Cannot decode image "${p.path}": decoder worker failed (${e.message})`));
      }
      slot.pending.clear();
      worker.terminate();
      const i = this.slots.indexOf(slot);
      // A worker that never answered failed to start (a missing module or permission): starting another would
      // fail the same way, so the pool reports that instead.
      if (!slot.answered) this.broken ??= `decoder worker failed to start (${e.message})`;
      else if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
    };
    return slot;
  }

  /**
   * Decodes one file on the least busy worker.
   *
   * @param path The file.
   * @returns Its pixels; rejects with the same one-line {@linkcode ClipcmpError} as {@linkcode decodeImageFile}.
   */
  decode(path: string): Promise<RgbaImage> {
    if (this.closed) return Promise.reject(new Error("DecodePool is closed"));
    if (this.broken) return Promise.reject(new ClipcmpError(`Cannot decode image "${path}": ${this.broken}`));
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.pending.size < slot.pending.size) slot = s;
    const id = this.nextId++;
    return new Promise<RgbaImage>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject, path });
      slot.worker.postMessage({ id, path, options: this.options });
    });
  }

  /** Stops the workers; requests still pending are rejected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.slots) {
      s.worker.terminate();
      for (const p of s.pending.values()) p.reject(new Error("DecodePool closed"));
      s.pending.clear();
    }
  }

  /** Same as {@linkcode close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
