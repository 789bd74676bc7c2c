/**
 * `deno task synsets` (part 2): ImageNet synsets with the WordNet 3.0 hierarchy. Not built yet.
 *
 * @module
 */
import { notImplemented } from "../lib/cli/not_implemented.ts";

notImplemented("synsets", "part 2, ImageNet synsets with the WordNet 3.0 hierarchy");
