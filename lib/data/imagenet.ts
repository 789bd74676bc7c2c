/**
 * ImageNet-1k class data, keyed by index: WordNet 3.0 ids, Keras labels and CLIP's curated names. Names repeat
 * (Keras has two "crane"s, CLIP two "missile"s), so nothing here is keyed by name.
 *
 * @module
 */
import classIndex from "../../data/imagenet/imagenet_class_index.json" with { type: "json" };
import clipNames from "../../data/clip/clip_classnames.json" with { type: "json" };

/** One ImageNet class. */
export interface ImagenetClass {
  /** Index 0..999 in the standard order. */
  index: number;
  /** WordNet 3.0 noun id, e.g. `n01614925`. */
  wnid: string;
  /** Keras short label, e.g. `bald_eagle`. */
  keras: string;
  /** CLIP's curated name, used for prompting, e.g. `bald eagle`. */
  clip: string;
}

const CLASSES: ImagenetClass[] = Array.from({ length: 1000 }, (_, i) => {
  const [wnid, keras] = (classIndex as unknown as Record<string, [string, string]>)[String(i)]!;
  return { index: i, wnid, keras, clip: (clipNames as string[])[i]! };
});
const BY_WNID = new Map(CLASSES.map((c) => [c.wnid, c]));

/**
 * All 1000 classes in index order.
 *
 * @example
 * ```ts
 * import { imagenetClasses } from "./imagenet.ts";
 * const c = imagenetClasses()[29]!;
 * if (c.wnid !== "n01632777" || c.clip !== "axolotl") throw new Error(JSON.stringify(c));
 * ```
 * @returns The classes.
 */
export function imagenetClasses(): readonly ImagenetClass[] {
  return CLASSES;
}

/**
 * The class with a WordNet id, or undefined.
 *
 * @param wnid E.g. `n01614925`.
 * @returns The class.
 */
export function classByWnid(wnid: string): ImagenetClass | undefined {
  return BY_WNID.get(wnid);
}

/**
 * The class named by a file name that starts with its WordNet id, as in `n01614925_bald_eagle.jpg`.
 *
 * @param path A path.
 * @returns The class, or undefined when the name has no known wnid prefix.
 */
export function classFromFileName(path: string): ImagenetClass | undefined {
  const base = path.split(/[\\/]/).pop() ?? "";
  const m = /^(n\d{8})/.exec(base);
  return m ? BY_WNID.get(m[1]!) : undefined;
}

/**
 * The class of an image in the two layouts the tasks read: a file named by its wnid (`n01614925_bald_eagle.jpg`),
 * else a file inside a folder that is exactly a wnid (`val/n01614925/x.jpg`, an ImageFolder).
 *
 * @example
 * ```ts
 * import { classOfImagePath } from "./imagenet.ts";
 * if (classOfImagePath("val/n01614925/x.jpg")?.index !== 22) throw new Error();
 * ```
 * @param path A path.
 * @returns The class, or undefined.
 */
export function classOfImagePath(path: string): ImagenetClass | undefined {
  const parts = path.split(/[\\/]/);
  return classFromFileName(parts.at(-1)!) ?? (parts.length > 1 ? classByWnid(parts.at(-2)!) : undefined);
}
