/**
 * `--template` / `--templates` for the tasks that prompt CLIP.
 *
 * @module
 */
import { ClipcmpError, firstLine, UsageError } from "../errors.ts";
import { DEFAULT_TEMPLATE, namedTemplates, validateTemplates } from "../zeroshot.ts";

/**
 * Resolves the template flags: `--template TEXT`, or `--templates clip80|simple7|FILE`; giving both is a usage
 * error. Neither gives the seed's "a photo of a {}.".
 *
 * @param template The `--template` value.
 * @param templates The `--templates` value.
 * @returns The templates.
 */
export async function resolveTemplates(template?: string, templates?: string): Promise<string[]> {
  if (template !== undefined && templates !== undefined) {
    throw new UsageError("--template and --templates exclude each other: give one");
  }
  if (template !== undefined) {
    if (!template.includes("{}")) {
      throw new UsageError(`--template must contain {} where the label goes, got "${template}"`);
    }
    return [template];
  }
  if (templates === undefined) return [DEFAULT_TEMPLATE];
  const named = namedTemplates(templates);
  if (named) return [...named];
  let text: string;
  try {
    text = await Deno.readTextFile(templates);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new ClipcmpError(`--templates "${templates}": not clip80, simple7 or an existing file`);
    }
    throw new ClipcmpError(`Cannot read --templates "${templates}": ${firstLine(err)}`);
  }
  const list = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  validateTemplates(list, `--templates "${templates}"`);
  return list;
}
