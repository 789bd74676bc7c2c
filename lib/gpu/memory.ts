/**
 * GPU memory accounting: wraps a `GPUDevice` so that every buffer created through it (ours and
 * onnxruntime's, when the wrapped device is handed to the webgpu EP) is counted until it is destroyed.
 *
 * @module
 */

/** Live and peak bytes of buffers created through a tracked device. */
export interface MemoryTracker {
  /** The device to use instead of the original. */
  device: GPUDevice;
  /** Bytes of buffers created and not yet destroyed. */
  readonly live: number;
  /** The largest `live` seen since the last reset. */
  readonly peak: number;
  /** Buffers created and not yet destroyed. */
  readonly buffers: number;
  /** Sets `peak` to the current `live`. */
  resetPeak(): void;
}

/**
 * Wraps `device` for accounting.
 *
 * @example
 * ```ts ignore
 * const mem = trackMemory(device);
 * const b = mem.device.createBuffer({ size: 1024, usage: GPUBufferUsage.STORAGE });
 * mem.live; // 1024
 * b.destroy();
 * mem.live; // 0, mem.peak stays 1024
 * ```
 * @param device The device.
 * @returns The tracker.
 */
export function trackMemory(device: GPUDevice): MemoryTracker {
  let live = 0;
  let peak = 0;
  let count = 0;
  const sizes = new WeakMap<GPUBuffer, number>();
  const createBuffer = (desc: GPUBufferDescriptor): GPUBuffer => {
    const buf = device.createBuffer(desc);
    const size = Number(desc.size);
    sizes.set(buf, size);
    live += size;
    count++;
    peak = Math.max(peak, live);
    const destroy = buf.destroy.bind(buf);
    Object.defineProperty(buf, "destroy", {
      configurable: true,
      value: () => {
        if (sizes.has(buf)) {
          live -= sizes.get(buf)!;
          count--;
          sizes.delete(buf);
        }
        destroy();
      },
    });
    return buf;
  };
  const proxy = new Proxy(device, {
    get(target, prop) {
      if (prop === "createBuffer") return createBuffer;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return {
    device: proxy,
    get live() {
      return live;
    },
    get peak() {
      return peak;
    },
    get buffers() {
      return count;
    },
    resetPeak() {
      peak = live;
    },
  };
}
