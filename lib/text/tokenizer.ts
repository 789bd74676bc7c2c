/**
 * CLIP tokenizer: a Hugging Face `tokenizer.json` (byte-level BPE with `</w>`, lower case, CLIP's split
 * regex) run by `@huggingface/tokenizers`, padded with zeros and truncated to 77 ids with EOT kept last.
 *
 * @module
 */
// deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
import { Tokenizer } from "npm:@huggingface/tokenizers@0.2.0";
import { ClipcmpError, firstLine } from "../errors.ts";

/** CLIP's context length. */
export const CONTEXT_LENGTH = 77;
/** `<|startoftext|>`. */
export const SOT = 49406;
/** `<|endoftext|>`. */
export const EOT = 49407;

/** A loaded CLIP tokenizer. */
export class ClipTokenizer {
  private constructor(private readonly tok: Tokenizer, /** The tokenizer.json path. */ readonly path: string) {}

  /**
   * Loads `tokenizer.json` and, when present beside it, `tokenizer_config.json`.
   *
   * @example
   * ```ts ignore
   * const t = await ClipTokenizer.load("models/fixtures/clip-tiny/textual/tokenizer.json");
   * t.encode("a photo of a dog.").ids.slice(0, 8); // 49406 320 1125 539 320 1929 269 49407
   * ```
   * @param path The tokenizer.json file.
   * @returns The tokenizer.
   */
  static async load(path: string): Promise<ClipTokenizer> {
    let json: unknown;
    try {
      json = JSON.parse(await Deno.readTextFile(path));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new ClipcmpError(`Cannot read tokenizer "${path}": file not found`);
      }
      throw new ClipcmpError(`Cannot read tokenizer "${path}": ${firstLine(err)}`);
    }
    let config: Record<string, unknown> = {};
    const configPath = path.replace(/tokenizer\.json$/, "tokenizer_config.json");
    if (configPath !== path) {
      try {
        config = JSON.parse(await Deno.readTextFile(configPath));
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          throw new ClipcmpError(`Cannot read "${configPath}": ${firstLine(err)}`);
        }
      }
    }
    try {
      const tok = new Tokenizer(json as never, config as never);
      const probe = tok.encode("a photo of a dog.").ids as number[];
      if (probe[0] !== SOT || probe[probe.length - 1] !== EOT) {
        throw new Error(`it does not add <|startoftext|> ${SOT} and <|endoftext|> ${EOT}`);
      }
      return new ClipTokenizer(tok, path);
    } catch (err) {
      throw new ClipcmpError(`Cannot use tokenizer "${path}": ${firstLine(err)}`);
    }
  }

  /**
   * Token ids of `text`, padded with zeros to 77. Longer texts are cut to 77 with EOT as the last id and
   * `truncated` set.
   *
   * @param text The prompt.
   * @returns The ids and whether they were truncated.
   */
  encode(text: string): { ids: number[]; truncated: boolean } {
    const ids = [...(this.tok.encode(text).ids as number[])];
    let truncated = false;
    if (ids.length > CONTEXT_LENGTH) {
      ids.length = CONTEXT_LENGTH;
      ids[CONTEXT_LENGTH - 1] = EOT;
      truncated = true;
    }
    while (ids.length < CONTEXT_LENGTH) ids.push(0);
    return { ids, truncated };
  }
}
