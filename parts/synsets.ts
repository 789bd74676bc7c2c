/**
 * `deno task synsets` (part 2): ImageNet classes as WordNet 3.0 synsets, with real data.
 *
 * @module
 */
import { parseFlags, runTask } from "../lib/cli/run.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { type ImagenetClass, imagenetClasses } from "../lib/data/imagenet.ts";
import { classesUnder, hypernymChain, siblingGroups, synset, WORDNET_PROVENANCE } from "../lib/data/wordnet.ts";
import { VERSION } from "../lib/version.ts";
import { SYNSETS_HELP } from "../lib/cli/help.ts";

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

interface TreeNode {
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

function printTree(n: TreeNode, prefix = "", last = true, top = true): void {
  const label = n.classIndex !== undefined ? `${n.name} [#${n.classIndex}]` : n.name;
  console.log(top ? label : `${prefix}${last ? "└─ " : "├─ "}${label}`);
  const next = top ? "" : `${prefix}${last ? "   " : "│  "}`;
  n.children.forEach((c, i) => printTree(c, next, i === n.children.length - 1, false));
}

function repeated(names: string[]): { name: string; indices: number[] }[] {
  const by = new Map<string, number[]>();
  names.forEach((n, i) => by.set(n, [...(by.get(n) ?? []), i]));
  return [...by.entries()].filter(([, v]) => v.length > 1).map(([name, indices]) => ({ name, indices }));
}

runTask("synsets", (args) => {
  const { values: v, positionals } = parseFlags(
    args,
    {
      json: { type: "boolean", default: false },
    },
    true,
    SYNSETS_HELP,
  );
  const all = imagenetClasses();
  const picked: ImagenetClass[] = [];
  const notFound: string[] = [];
  for (const arg of positionals.length ? positionals : DEMO_CLASSES.map(String)) {
    const found = resolve(arg);
    if (found.length === 0) notFound.push(arg);
    for (const c of found) if (!picked.includes(c)) picked.push(c);
  }
  if (picked.length === 0) {
    throw new ClipcmpError(`No ImageNet class matches ${notFound.map((a) => `"${a}"`).join(", ")}`);
  }
  for (const a of notFound) console.error(`clipcmp synsets: skipped "${a}": no ImageNet class matches it`);

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
  if (v.json) {
    console.log(JSON.stringify(
      {
        tool: "clipcmp",
        version: VERSION,
        task: "synsets",
        provenance: { wordnet: WORDNET_PROVENANCE },
        classes: details,
        not_found: notFound,
        tree,
        figures,
      },
      null,
      2,
    ));
    return Promise.resolve(0);
  }
  for (const d of details) {
    console.log(`#${d.index}  ${d.wnid}  Keras "${d.keras}"  CLIP "${d.clip}"`);
    console.log(`  lemmas: ${d.lemmas.join(", ")}`);
    console.log(`  gloss:  ${d.gloss}`);
    console.log(`  chain:  ${d.chain.map((c) => c.name).join(" → ")}\n`);
  }
  if (tree && picked.length > 1) {
    console.log(`The WordNet tree that joins these ${picked.length} classes:`);
    printTree(tree);
    console.log();
  }
  console.log("Why ImageNet is hard, in WordNet's own numbers:");
  for (const g of figures.classes_under) {
    console.log(`  ${String(g.count).padStart(4)} classes are a kind of ${g.name}`);
  }
  console.log("  Largest groups of sibling classes (same direct hypernym), the easiest to confuse:");
  for (const g of figures.sibling_groups) {
    const names = g.classes.map((c) => c.clip);
    console.log(
      `    ${String(g.classes.length).padStart(3)} × ${g.parent.name}: ${names.slice(0, 6).join(", ")}${
        names.length > 6 ? ", …" : ""
      }`,
    );
  }
  const rep = (list: { name: string; indices: number[] }[]) =>
    list.map((r) => `"${r.name}" (#${r.indices.join(", #")})`).join("; ");
  console.log(`  Repeated Keras labels: ${rep(figures.repeated_names.keras)}`);
  console.log(`  Repeated CLIP names:   ${rep(figures.repeated_names.clip)}`);
  console.log("  So classes are keyed by index, never by name.");
  console.log(`\nSource: ${WORDNET_PROVENANCE.source}`);
  return Promise.resolve(0);
});
