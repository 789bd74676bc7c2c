/**
 * `deno task params` (part 1): parameter counts read from the ONNX files. Not built yet.
 *
 * @module
 */
import { notImplemented } from "../lib/cli/not_implemented.ts";

notImplemented("params", "part 1, parameter counts from the ONNX files");
