/**
 * Worker side of {@linkcode DecodePool}: decodes one file per message and transfers the pixels back.
 *
 * Messages in: `{ id, path, options }`. Messages out: `{ id, width, height, data }` (the pixel buffer is
 * transferred, not copied) or `{ id, error }` with the one-line message of the decoder.
 *
 * @module
 */
import { decodeImageFile, type DecodeOptions } from "./decode.ts";
import { firstLine } from "../errors.ts";

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage: (msg: unknown, transfer?: Transferable[]) => void;
};

scope.onmessage = async (e: MessageEvent<{ id: number; path: string; options: DecodeOptions }>) => {
  const { id, path, options } = e.data;
  try {
    const img = await decodeImageFile(path, options);
    const data = img.data.byteOffset === 0 && img.data.byteLength === img.data.buffer.byteLength
      ? img.data
      : img.data.slice();
    scope.postMessage({ id, width: img.width, height: img.height, data }, [data.buffer as ArrayBuffer]);
  } catch (err) {
    scope.postMessage({ id, error: firstLine(err) });
  }
};
