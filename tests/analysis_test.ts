/** The report's analyses: published baselines, effective-robustness panels, confusions, galleries, class ranking. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { BASELINE_SOURCE, baselineFor, baselinePoints } from "../lib/report/baselines.ts";
import { robustnessPanels, robustnessSvg } from "../lib/report/robustness.ts";
import { classDifferences, disagreements, type Judged, topConfusions } from "../lib/report/differences.ts";
import { imagenetClasses } from "../lib/data/imagenet.ts";

Deno.test("the baseline table gives timm's published ImageNet top-1 as top1 - top1_diff, with its source", () => {
  // resnet50.tv_in1k: 76.130 % on ImageNet-1k in timm's results-imagenet.csv and torchvision's model card.
  const sk = baselinePoints("sketch");
  const rn50 = sk.find((p) => p.model === "resnet50.tv_in1k")!;
  assert(Math.abs(rn50.x - 0.7613) < 1e-12 && Math.abs(rn50.y - 0.2409) < 1e-12, JSON.stringify(rn50));
  // resnet18.tv_in1k: 69.760 % on ImageNet-1k.
  assert(Math.abs(sk.find((p) => p.model === "resnet18.tv_in1k")!.x - 0.6976) < 1e-12);
  assertEquals([sk.length, baselinePoints("r").length, baselinePoints("a").length], [20, 20, 19]);
  for (const set of ["sketch", "r", "a"] as const) {
    for (const p of baselinePoints(set)) assert(p.x > 0 && p.x <= 1 && p.y >= 0 && p.y < p.x, `${set} ${p.model}`);
    assert(/^[0-9a-f]{40}$/.test(BASELINE_SOURCE.files[set].commit));
  }
  assertEquals(BASELINE_SOURCE.licence, "Apache-2.0");
});

Deno.test("baselineFor() matches sketches, renditions and ImageNet-A by name only", () => {
  assertEquals(
    ["sketch", "ImageNet-Sketch", "art", "imagenet_r", "imagenet-a", "photo", "blur", "imagenet"].map(baselineFor),
    ["sketch", "sketch", "r", "r", "a", null, null, null],
  );
});

const acc = (top1: number, n: number) => ({
  top1,
  n,
  top1_ci: [Math.max(0, top1 - 0.05), top1 + 0.05] as [number, number],
});

Deno.test("robustnessPanels() fits the baseline in logit space and measures each model's distance above it", () => {
  const pts = baselinePoints("sketch");
  // An independent fit: ordinary least squares by the normal equations on (logit x, logit y).
  const lg = (p: number) => Math.log(p / (1 - p));
  const X = pts.map((p) => lg(p.x)), Y = pts.map((p) => lg(p.y));
  const n = X.length, sx = X.reduce((a, b) => a + b), sy = Y.reduce((a, b) => a + b);
  const sxx = X.reduce((a, b) => a + b * b, 0), sxy = X.reduce((a, b, i) => a + b * Y[i]!, 0);
  const slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), intercept = (sy - slope * sx) / n;
  const [panel, other] = robustnessPanels(
    [
      { domain: "photo", models: { clip: acc(0.6, 200), resnet: acc(0.76, 200) } },
      { domain: "sketch", models: { clip: acc(0.42, 200), resnet: acc(0.24, 200) } },
      { domain: "blur", models: { clip: acc(0.5, 20), resnet: acc(0.5, 20) } },
    ],
    "photo",
    { clip: "CLIP", resnet: "ResNet" },
  );
  assert(
    Math.abs(panel!.baseline!.line.slope - slope) < 1e-9 &&
      Math.abs(panel!.baseline!.line.intercept - intercept) < 1e-9,
  );
  const predict = (x: number) => 1 / (1 + Math.exp(-(slope * lg(x) + intercept)));
  const [clip, resnet] = panel!.models;
  assert(Math.abs(clip!.rho! - (0.42 - predict(0.6))) < 1e-9);
  assert(Math.abs(resnet!.rho! - (0.24 - predict(0.76))) < 1e-9);
  assert(clip!.rho! > 0.1 && Math.abs(resnet!.rho!) < 0.05, `${clip!.rho} ${resnet!.rho}`); // ResNet-50 sits on it
  assertEquals(panel!.small, false);
  // No published set is called "blur": y = x only, no ρ; 20 images is small.
  assertEquals([other!.baseline, other!.models.map((m) => m.rho), other!.small], [null, [null, null], true]);
});

Deno.test("the ImageNet-A baseline leaves ResNet-50's 0 % out of the logit fit and says so", () => {
  const [p] = robustnessPanels(
    [
      { domain: "photo", models: { clip: acc(0.9, 50) } },
      { domain: "imagenet-a", models: { clip: acc(0.2, 50) } },
    ],
    "photo",
    {},
  );
  assertEquals(p!.baseline!.excluded, ["resnet50.tv_in1k"]);
  assertEquals(p!.baseline!.line.n, 18);
});

Deno.test("robustnessSvg() scales with the page and gives every mark a tooltip with n and interval", () => {
  const [p] = robustnessPanels(
    [
      { domain: "photo", models: { clip: acc(0.6, 10), resnet: acc(0.7, 10) } },
      { domain: "sketch", models: { clip: acc(0.3, 27), resnet: acc(0.0, 27) } },
    ],
    "photo",
    { clip: "CLIP RN50", resnet: "ResNet-50" },
  );
  const svg = robustnessSvg(p!);
  assert(svg.includes('viewBox="0 0 ') && svg.includes('width="100%"'));
  assert(/<title>CLIP RN50: photo 60\.0 % \(95 % CI 55\.0–65\.0, n=10\), sketch 30\.0 %[^<]*n=27\)/.test(svg), svg);
  assert(svg.includes("<title>ResNet-50: photo 70.0 %"));
  assertEquals((svg.match(/\(published\)/g) ?? []).length, 20);
  assert(!/NaN|Infinity/.test(svg));
});

const W = (i: number) => imagenetClasses()[i]!.wnid;
const s = (index: number) => ({ label: imagenetClasses()[index]!.clip, index, score: 1 });
const im = (domain: string, t: number, a: number, b: number): Judged => ({
  domain,
  true: { index: t, label: imagenetClasses()[t]!.clip, wnid: W(t) },
  preds: { a: [s(a)], b: [s(b)] },
});
// leopard 288, tiger 292, bald eagle 22, scorpion 71.
const IMAGES = [
  im("photo", 288, 292, 288),
  im("photo", 288, 292, 292),
  im("photo", 288, 288, 22),
  im("photo", 22, 71, 22),
  im("sketch", 288, 292, 288),
];

Deno.test("topConfusions() counts true → predicted per domain, with share and WordNet distance", () => {
  const c = topConfusions(IMAGES, "a", "photo", 5);
  assertEquals(c.map((x) => [x.true_index, x.pred_index, x.count]), [[288, 292, 2], [22, 71, 1]]);
  assert(Math.abs(c[0]!.share - 2 / 3) < 1e-12);
  assertEquals(c[0]!.distance, 1); // leopard and tiger are both Panthera, one edge up
  assert(c[1]!.distance! > 5); // a bird and an arachnid meet far up
  assertEquals(topConfusions(IMAGES, "a", "photo", 1).length, 1);
  assertEquals(topConfusions(IMAGES, "b", "sketch", 5), []);
});

Deno.test("disagreements() lists the images one model gets right and the other wrong", () => {
  assertEquals(disagreements(IMAGES, "a", "b"), [2]);
  assertEquals(disagreements(IMAGES, "b", "a"), [0, 3, 4]);
});

Deno.test("classDifferences() pools the domains per class and sorts by the difference", () => {
  const rows = classDifferences(IMAGES, ["a", "b"], "a", "b");
  assertEquals(rows.map((r) => [r.index, r.n, r.top1.a, r.top1.b]), [[288, 4, 0.25, 0.5], [22, 1, 0, 1]]);
  assertEquals(rows.map((r) => r.difference), [-0.25, -1]);
});
