/**
 * `deno task zeroshot` (part 3): CLIP zero-shot on any images and labels. Not built yet.
 *
 * @module
 */
import { notImplemented } from "../lib/cli/not_implemented.ts";

notImplemented("zeroshot", "part 3, CLIP zero-shot on any images and labels");
