import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ancestors, classesUnder, hypernymChain, mistakeSeverity, synset } from "../lib/data/wordnet.ts";
import { imagenetClasses } from "../lib/data/imagenet.ts";
import { runTaskCli } from "./_helpers.ts";
import { schemaValidator } from "./_schema.ts";

const validate = await schemaValidator("synsets");
const names = (chain: string[]) => chain.map((w) => synset(w)!.lemmas[0]);

Deno.test("every ImageNet wnid is a WordNet 3.0 synset whose chains reach entity", () => {
  for (const c of imagenetClasses()) {
    const chain = hypernymChain(c.wnid);
    assertEquals(chain[0], c.wnid);
    assertEquals(synset(chain.at(-1)!)!.lemmas[0], "entity", c.wnid);
  }
});

Deno.test("hypernymChain() reproduces known chains", () => {
  assertEquals(names(hypernymChain("n02128385")), [
    "leopard",
    "big cat",
    "feline",
    "carnivore",
    "placental",
    "mammal",
    "vertebrate",
    "chordate",
    "animal",
    "organism",
    "living thing",
    "whole",
    "object",
    "physical entity",
    "entity",
  ]);
  assertEquals(names(hypernymChain("n02108915")).slice(0, 4), ["French bulldog", "bulldog", "working dog", "dog"]);
  // Axolotl is n01632777 (index 29); n01629819 is the European fire salamander.
  assertEquals(imagenetClasses()[29]!.wnid, "n01632777");
  assertEquals(synset("n01632777")!.lemmas[0], "axolotl");
});

Deno.test("mistakeSeverity() counts edges up to the nearest shared ancestor, by the shortest path", () => {
  assertEquals(mistakeSeverity("n02128385", "n02128385"), 0);
  assertEquals(mistakeSeverity("n02128385", "n02129604"), 1); // leopard vs tiger: big cat
  // French bulldog → bulldog → working dog → dog → canine → carnivore, which leopard shares.
  assertEquals(mistakeSeverity("n02108915", "n02128385"), 5);
  // Bald eagle vs coffee mug share only "whole" and above: 9 edges up from bald eagle.
  assertEquals(mistakeSeverity("n01614925", "n03063599"), 9);
  assertEquals(ancestors("n01614925").get("n00003553"), 9);
});

Deno.test("the WordNet figures count ImageNet's fine-grained groups", () => {
  assertEquals(classesUnder("n02084071"), 118); // dog (the WordNet synset; some breeds sit elsewhere)
  assert(classesUnder("n01503061") >= 50); // bird
});

Deno.test("synsets --json validates and shows the demo classes, tree and figures", async () => {
  const run = await runTaskCli("synsets", ["--json"]);
  assertEquals(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assert(validate(doc), validate.errors);
  assertEquals(doc.classes.map((c: { index: number }) => c.index), [22, 29, 39, 63, 71, 79, 84, 100, 245, 288]);
  assertEquals(doc.tree.name, "entity");
  assertEquals(doc.figures.repeated_names.keras.map((r: { name: string }) => r.name).sort(), ["crane", "maillot"]);
  assertEquals(doc.figures.repeated_names.clip.map((r: { name: string }) => r.name).sort(), ["missile", "sunglasses"]);
});

Deno.test("synsets resolves index, wnid and repeated names, and skips unknown ones with a note", async () => {
  const run = await runTaskCli("synsets", ["288", "n01614925", "crane", "nope", "--json"]);
  assertEquals(run.code, 0, run.stderr);
  const doc = JSON.parse(run.stdout);
  assertEquals(doc.classes.map((c: { index: number }) => c.index), [288, 22, 134, 517]);
  assertEquals(doc.not_found, ["nope"]);
  assert(/skipped "nope"/.test(run.stderr));
});

Deno.test("synsets prints chains and the joining tree for humans", async () => {
  const run = await runTaskCli("synsets", ["leopard", "tiger"]);
  assertEquals(run.code, 0, run.stderr);
  assert(run.stdout.includes("chain:  leopard → big cat → feline → carnivore"));
  assert(/└─ big cat\n\s+├─ leopard \[#288\]\n\s+└─ tiger \[#292\]/.test(run.stdout), run.stdout);
  assert(/118 classes are a kind of dog/.test(run.stdout));
});

Deno.test("synsets with nothing matching exits 1 with one line", async () => {
  const run = await runTaskCli("synsets", ["nope"]);
  assertEquals(run.code, 1);
  assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
});
