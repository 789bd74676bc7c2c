/**
 * The synsets task's core, for the CLI (`deno task synsets`) and scripts alike: ImageNet classes as WordNet 3.0
 * synsets (lemmas, gloss, hypernym chain), the tree that joins them, and WordNet's figures on why ImageNet is hard.
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";
import { type ImagenetClass, imagenetClasses } from "../data/imagenet.ts";
import { classesUnder, hypernymChain, siblingGroups, synset, WORDNET_PROVENANCE } from "../data/wordnet.ts";
import { docHeader } from "../envelope.ts";

/** The 10 classes of the sample photos. */
export const DEMO_CLASSES = [22, 29, 39, 63, 71, 79, 84, 100, 245, 288];

/** Ancestors whose ImageNet class counts are shown. */
const GROUPS: [string, string][] = [
  ["n02084071", "dog"],
  ["n01503061", "bird"],
  ["n01661091", "reptile"],
  ["n02159955", "insect"],
  ["n01627424", "amphibian"],
  ["n02512053", "fish"],
  ["n02469914", "primate"],
  ["n02120997", "feline"],
  ["n03800933", "musical instrument"],
  ["n04576211", "wheeled vehicle"],
  ["n00021265", "food, nutrient"],
];

const norm = (s: string) => s.toLowerCase().replace(/_/g, " ").trim();

function resolve(arg: string): ImagenetClass[] {
  const classes = imagenetClasses();
  if (/^\d+$/.test(arg)) {
    const c = classes[Number(arg)];
    return c ? [c] : [];
  }
  if (/^n\d{8}$/.test(arg)) return classes.filter((c) => c.wnid === arg);
  const q = norm(arg);
  return classes.filter((c) =>
    norm(c.keras) === q || norm(c.clip) === q || (synset(c.wnid)?.lemmas ?? []).some((l) => norm(l) === q)
  );
}

const head = (wnid: string) => synset(wnid)?.lemmas[0] ?? wnid;

/** A node of the WordNet tree joining the chosen classes. */
export interface TreeNode {
  wnid: string;
  name: string;
  classIndex?: number;
  children: TreeNode[];
}

function buildTree(classes: ImagenetClass[]): TreeNode | null {
  if (classes.length === 0) return null;
  const nodes = new Map<string, TreeNode>();
  const node = (w: string) => {
    if (!nodes.has(w)) nodes.set(w, { wnid: w, name: head(w), children: [] });
    return nodes.get(w)!;
  };
  let root: TreeNode | null = null;
  for (const c of classes) {
    const chain = hypernymChain(c.wnid).reverse(); // root first
    root = node(chain[0]!);
    for (let i = 1; i < chain.length; i++) {
      const parent = node(chain[i - 1]!);
      const child = node(chain[i]!);
      if (!parent.children.includes(child)) parent.children.push(child);
    }
    node(c.wnid).classIndex = c.index;
  }
  return root;
}

function repeated(names: string[]): { name: string; indices: number[] }[] {
  const by = new Map<string, number[]>();
  names.forEach((n, i) => by.set(n, [...(by.get(n) ?? []), i]));
  return [...by.entries()].filter(([, v]) => v.length > 1).map(([name, indices]) => ({ name, indices }));
}

/**
 * Looks up each query (a class index, a wnid, or a name: Keras, CLIP or a WordNet lemma) and describes the classes.
 *
 * @example
 * ```ts
 * import { runSynsets } from "./synsets.ts";
 * const doc = runSynsets(["n01614925"]);
 * if (doc.classes[0]?.index !== 22 || doc.not_found.length !== 0) throw new Error();
 * ```
 * @param queries The queries; the sample photos' 10 classes when empty.
 * @returns The document (`deno task synsets --json`).
 */
export function runSynsets(queries: readonly string[]) {
  const all = imagenetClasses();
  const picked: ImagenetClass[] = [];
  const notFound: string[] = [];
  for (const arg of queries.length ? queries : DEMO_CLASSES.map(String)) {
    const found = resolve(arg);
    if (found.length === 0) notFound.push(arg);
    for (const c of found) if (!picked.includes(c)) picked.push(c);
  }
  if (picked.length === 0) {
    throw new ClipcmpError(`No ImageNet class matches ${notFound.map((a) => `"${a}"`).join(", ")}`);
  }

  const details = picked.map((c) => {
    const s = synset(c.wnid)!;
    return {
      index: c.index,
      wnid: c.wnid,
      keras: c.keras,
      clip: c.clip,
      lemmas: s.lemmas,
      gloss: s.gloss,
      chain: hypernymChain(c.wnid).map((w) => ({ wnid: w, name: head(w) })),
    };
  });
  const figures = {
    classes_under: GROUPS.map(([wnid, name]) => ({ wnid, name, count: classesUnder(wnid) })),
    sibling_groups: siblingGroups(8).map((g) => ({
      parent: { wnid: g.parent, name: head(g.parent) },
      classes: g.classes.map((i) => ({ index: i, clip: all[i]!.clip })),
    })),
    repeated_names: {
      keras: repeated(all.map((c) => c.keras)),
      clip: repeated(all.map((c) => c.clip)),
    },
  };
  const tree = buildTree(picked);
  return {
    ...docHeader("synsets"),
    provenance: { wordnet: WORDNET_PROVENANCE },
    classes: details,
    not_found: notFound,
    tree,
    figures,
  };
}

/** The synsets document. */
export type SynsetsDocument = ReturnType<typeof runSynsets>;
