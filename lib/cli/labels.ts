/**
 * zeroshot's label flags (`--labels`, `--labels-file`, `--imagenet`), read into one label list.
 *
 * @module
 */
import { ClipcmpError, firstLine, UsageError } from "../errors.ts";
import { imagenetClasses } from "../data/imagenet.ts";
import { type Label, parseLabelsFile, validateLabels } from "../zeroshot.ts";

/**
 * Reads the labels the flags name (ImageNet's 1000 CLIP names when none is given); at most one flag may be given.
 *
 * @example
 * ```ts
 * import { readLabels } from "./labels.ts";
 * const { labels } = await readLabels({ labels: "a cat, a dog" });
 * if (labels[1]?.label !== "a dog" || labels[1].index !== 1) throw new Error();
 * ```
 * @param v The parsed flags.
 * @returns The labels and where they came from.
 */
export async function readLabels(
  v: { labels?: string; "labels-file"?: string; imagenet?: boolean },
): Promise<{ labels: Label[]; source: string }> {
  const given = (["labels", "labels-file", "imagenet"] as const).filter((k) => v[k] !== undefined && v[k] !== false);
  if (given.length > 1) throw new UsageError(`--${given.join(" and --")} exclude each other: give one`);
  if (v.labels !== undefined) {
    const labels = v.labels.split(",").map((label, index) => ({ label: label.trim(), index }));
    validateLabels(labels, "--labels");
    return { labels, source: "--labels" };
  }
  if (v["labels-file"] !== undefined) {
    const path = v["labels-file"];
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw new ClipcmpError(`--labels-file "${path}": file not found`);
      throw new ClipcmpError(`Cannot read --labels-file "${path}": ${firstLine(err)}`);
    }
    const labels = parseLabelsFile(text, `--labels-file "${path}"`);
    validateLabels(labels, `--labels-file "${path}"`);
    return { labels, source: path };
  }
  return { labels: imagenetClasses().map((c) => ({ label: c.clip, index: c.index })), source: "imagenet (CLIP names)" };
}
