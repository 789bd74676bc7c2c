/**
 * `deno task eval`: dataset-scale evaluation (ImageNet, -Sketch, -R, -A). Not built yet.
 *
 * @module
 */
import { notImplemented } from "../lib/cli/not_implemented.ts";

notImplemented("eval", "dataset-scale evaluation with --dataset NAME=DIR, resumable and sharded");
