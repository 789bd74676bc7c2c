/**
 * The ImageNet classes (index, wnid, CLIP's curated names) and the WordNet 3.0 hierarchy over them.
 *
 * @example The class of a file named by its wnid, and how far two classes are apart
 * ```ts
 * import { classFromFileName, mistakeSeverity } from "./mod.ts";
 * const leopard = classFromFileName("n02128385_leopard.jpg")!;
 * if (leopard.index !== 288 || !(mistakeSeverity("n02128385", "n02129604") > 0)) throw new Error();
 * ```
 *
 * @module
 */
export { classByWnid, classFromFileName, type ImagenetClass, imagenetClasses } from "./imagenet.ts";
export { ancestors, hypernymChain, mistakeSeverity, type Synset, synset, WORDNET_ROOT } from "./wordnet.ts";
