/**
 * `deno task fp16` (part 5): FP16 vs FP32 latency, throughput, memory and agreement. Not built yet.
 *
 * @module
 */
import { notImplemented } from "../lib/cli/not_implemented.ts";

notImplemented("fp16", "part 5, FP16 vs FP32 latency, throughput, memory and agreement");
