/**
 * Reading GPU buffers back to the CPU. Each readback costs a full round trip (about 11 ms in Deno), so callers
 * batch their reads and read once at the end.
 *
 * @module
 */

/**
 * Copies `size` bytes of `src` from `offset` into a mappable buffer and returns them.
 *
 * @example Read a storage buffer
 * ```ts ignore
 * const bytes = await readBuffer(device, buf, 0, buf.size);
 * ```
 * @param device The device that owns `src`.
 * @param src A buffer with COPY_SRC usage.
 * @param offset Byte offset, a multiple of 4.
 * @param size Byte count, a multiple of 4.
 * @returns The bytes.
 */
export async function readBuffer(
  device: GPUDevice,
  src: GPUBuffer,
  offset: number,
  size: number,
): Promise<ArrayBuffer> {
  const staging = device.createBuffer({
    label: `readback of ${src.label || "buffer"}`,
    size,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const enc = device.createCommandEncoder({ label: "readback" });
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    return staging.getMappedRange().slice(0);
  } finally {
    staging.destroy();
  }
}

/**
 * Creates a buffer initialised with `data`.
 *
 * @param device The device.
 * @param label A label for validation messages.
 * @param data The initial contents; its byte length is rounded up to a multiple of 4.
 * @param usage Usage flags; COPY_DST is added.
 * @returns The buffer.
 */
export function createBufferWith(
  device: GPUDevice,
  label: string,
  data: ArrayBufferView,
  usage: GPUBufferUsageFlags,
): GPUBuffer {
  const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
  const buf = device.createBuffer({ label, size, usage: usage | GPUBufferUsage.COPY_DST, mappedAtCreation: true });
  new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buf.unmap();
  return buf;
}
