/**
 * WordNet 3.0 for the 1000 ImageNet classes and their ancestors (data/imagenet/wordnet30_imagenet.json, made by
 * tools/gen_wordnet.py from Debian's wordnet-base). WordNet is a graph, not a tree: a synset can have several
 * hypernyms, so distances take the shortest path.
 *
 * @module
 */
import wordnet from "../../data/imagenet/wordnet30_imagenet.json" with { type: "json" };
import { imagenetClasses } from "./imagenet.ts";

/** One WordNet noun synset. */
export interface Synset {
  /** `n` + the 8-digit WordNet 3.0 offset. */
  wnid: string;
  /** Lemmas, first is the head word. */
  lemmas: string[];
  /** The definition. */
  gloss: string;
  /** Hypernyms (including instance hypernyms). */
  hypernyms: string[];
}

const SYNSETS = wordnet.synsets as Record<string, Omit<Synset, "wnid">>;

/** The root synset, `entity`. */
export const WORDNET_ROOT = wordnet.root;

/** Where the data came from. */
export const WORDNET_PROVENANCE = wordnet.provenance;

/**
 * A synset by wnid.
 *
 * @example
 * ```ts
 * import { synset } from "./wordnet.ts";
 * if (synset("n02128385")?.lemmas[0] !== "leopard") throw new Error();
 * ```
 * @param wnid E.g. `n02128385`.
 * @returns The synset, or undefined when it is not an ImageNet class or ancestor.
 */
export function synset(wnid: string): Synset | undefined {
  const s = SYNSETS[wnid];
  return s && { wnid, ...s };
}

/**
 * Every ancestor of a synset (itself included) with its shortest distance in hypernym edges.
 *
 * @param wnid The synset.
 * @returns Ancestor wnid to distance.
 */
export function ancestors(wnid: string): Map<string, number> {
  const dist = new Map<string, number>([[wnid, 0]]);
  const queue = [wnid];
  while (queue.length) {
    const w = queue.shift()!;
    for (const h of SYNSETS[w]?.hypernyms ?? []) {
      if (!dist.has(h)) {
        dist.set(h, dist.get(w)! + 1);
        queue.push(h);
      }
    }
  }
  return dist;
}

/**
 * The shortest hypernym chain from a synset up to `entity` (the first hypernym wins ties).
 *
 * @example
 * ```ts
 * import { hypernymChain, synset } from "./wordnet.ts";
 * const chain = hypernymChain("n02128385").map((w) => synset(w)!.lemmas[0]);
 * if (chain.slice(0, 4).join() !== "leopard,big cat,feline,carnivore" || chain.at(-1) !== "entity") throw new Error();
 * ```
 * @param wnid The synset.
 * @returns wnids from the synset to the root.
 */
export function hypernymChain(wnid: string): string[] {
  const prev = new Map<string, string | null>([[wnid, null]]);
  const queue = [wnid];
  while (queue.length) {
    const w = queue.shift()!;
    if (w === WORDNET_ROOT) break;
    for (const h of SYNSETS[w]?.hypernyms ?? []) {
      if (!prev.has(h)) {
        prev.set(h, w);
        queue.push(h);
      }
    }
  }
  if (!prev.has(WORDNET_ROOT)) return [wnid];
  const chain: string[] = [];
  for (let w: string | null = WORDNET_ROOT; w !== null; w = prev.get(w) ?? null) chain.push(w);
  return chain.reverse();
}

/**
 * Mistake severity after Bertinetto et al., "Making Better Mistakes": hypernym edges from the true class up to
 * the deepest ancestor it shares with the prediction, taking the shortest such path. 0 when they are equal.
 *
 * @example
 * ```ts
 * import { mistakeSeverity } from "./wordnet.ts";
 * // leopard vs tiger: both are big cats, one edge up from leopard.
 * if (mistakeSeverity("n02128385", "n02129604") !== 1) throw new Error();
 * ```
 * @param trueWnid The true class.
 * @param predWnid The predicted class.
 * @returns The number of edges.
 */
export function mistakeSeverity(trueWnid: string, predWnid: string): number {
  const up = ancestors(trueWnid);
  const theirs = ancestors(predWnid);
  let best = Infinity;
  for (const [a, d] of up) if (theirs.has(a)) best = Math.min(best, d);
  return best;
}

/**
 * How many of the 1000 ImageNet classes sit under a synset.
 *
 * @param wnid The ancestor, e.g. `n02084071` (dog).
 * @returns The count.
 */
export function classesUnder(wnid: string): number {
  return imagenetClasses().filter((c) => ancestors(c.wnid).has(wnid)).length;
}

/**
 * Groups of ImageNet classes that share a direct hypernym, largest first: the siblings most easily confused.
 *
 * @param limit How many groups.
 * @returns Parent wnid and the class indices under it.
 */
export function siblingGroups(limit: number): { parent: string; classes: number[] }[] {
  const groups = new Map<string, number[]>();
  for (const c of imagenetClasses()) {
    for (const h of SYNSETS[c.wnid]?.hypernyms ?? []) {
      if (!groups.has(h)) groups.set(h, []);
      groups.get(h)!.push(c.index);
    }
  }
  return [...groups.entries()]
    .map(([parent, classes]) => ({ parent, classes }))
    .sort((a, b) => b.classes.length - a.classes.length || (a.parent < b.parent ? -1 : 1))
    .slice(0, limit);
}
