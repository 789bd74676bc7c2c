/**
 * `--alpha` and `--exif-orientation`, shared by the tasks that read images.
 *
 * @module
 */
import { oneOf } from "./run.ts";
import type { DecodeOptions } from "../image/decode.ts";

/** The flags' parseArgs options. */
export const DECODE_FLAGS = {
  alpha: { type: "string", default: "drop" },
  "exif-orientation": { type: "string", default: "ignore" },
} as const;

/**
 * Validates the flags into decode options.
 *
 * @param v Parsed flag values.
 * @returns The decode options.
 */
export function decodeOptions(v: Record<string, unknown>): Required<DecodeOptions> {
  return {
    alpha: oneOf("--alpha", v.alpha as string, ["drop", "white"] as const),
    exifOrientation: oneOf("--exif-orientation", v["exif-orientation"] as string, ["ignore", "apply"] as const),
  };
}
