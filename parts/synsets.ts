/**
 * `deno task synsets` (part 2): ImageNet classes as WordNet 3.0 synsets, with real data.
 *
 * @module
 */
import { parseFlags, runTask } from "../lib/cli/run.ts";
import { WORDNET_PROVENANCE } from "../lib/data/wordnet.ts";
import { runSynsets, type TreeNode } from "../lib/tasks/synsets.ts";
import { SYNSETS_HELP } from "../lib/cli/help.ts";

function printTree(n: TreeNode, prefix = "", last = true, top = true): void {
  const label = n.classIndex !== undefined ? `${n.name} [#${n.classIndex}]` : n.name;
  console.log(top ? label : `${prefix}${last ? "└─ " : "├─ "}${label}`);
  const next = top ? "" : `${prefix}${last ? "   " : "│  "}`;
  n.children.forEach((c, i) => printTree(c, next, i === n.children.length - 1, false));
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
  const doc = runSynsets(positionals);
  for (const a of doc.not_found) console.error(`clipcmp synsets: skipped "${a}": no ImageNet class matches it`);
  if (v.json) {
    console.log(JSON.stringify(doc, null, 2));
    return Promise.resolve(0);
  }
  const { classes: details, tree, figures } = doc;
  for (const d of details) {
    console.log(`#${d.index}  ${d.wnid}  Keras "${d.keras}"  CLIP "${d.clip}"`);
    console.log(`  lemmas: ${d.lemmas.join(", ")}`);
    console.log(`  gloss:  ${d.gloss}`);
    console.log(`  chain:  ${d.chain.map((c) => c.name).join(" → ")}\n`);
  }
  if (tree && details.length > 1) {
    console.log(`The WordNet tree that joins these ${details.length} classes:`);
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
