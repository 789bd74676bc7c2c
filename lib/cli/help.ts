/**
 * Every task's `--help` text, beside one another so that they read alike; each part prints its own through
 * `parseFlags`.
 *
 * @module
 */
import { CLIP_MODEL_HELP, MODEL_HELP } from "./models.ts";
import { DEFAULT_TEMPLATE } from "../zeroshot.ts";
import { SHIFTS } from "../shift/params.ts";

/** `deno task compare --help`. */
export const COMPARE_HELP =
  `clipcmp compare: ResNet-50 vs CLIP zero-shot on photo, art and sketch, scored on one label set

Usage: deno task compare [options] [IMAGE|DIR ...]

By default it runs the embedded sets: photo (the 10 demo photos) and the public-domain renditions (93 art,
27 sketch). Images given as arguments replace them, as one domain "images". Each image's class comes from an
ImageNet WordNet id at the start of its file name (n01614925_eagle.jpg) or its folder's name (n01614925/x.jpg).
Both models are scored on the label set made of all classes present; ResNet's 1000 logits are restricted to
it, and its unrestricted 1000-way top-5 is kept too.

Options:
  --dataset NAME=DIR      add a domain from an ImageFolder named by wnid (repeatable), e.g. sketch=~/imagenet-sketch;
                          folders named by class instead (no wnid folder) are scored by CLIP on their names and
                          by the ResNet only on the classes that map to ImageNet
  --class-map FILE        map class-name folders to ImageNet: lines "name,wnid" or "name,index", or a JSON object
${MODEL_HELP}
  --template TEXT         prompt template with {} (default "${DEFAULT_TEMPLATE}")
  --templates SET         clip80 (CLIP's 80 ImageNet templates), simple7, or a file with one per line;
                          the head averages them. Not together with --template
  --device auto|webgpu|wasm   where models and kernels run (default auto)
  --engine ort|wgsl           what runs the models: onnxruntime-web (default) or clipcmp's WGSL engine (webgpu)
  --dtype fp32|fp16       precision; fp16 models are converted, cached, and used only after a self-test
                          against fp32 on the first images
  --alpha drop|white      drop alpha like PIL convert("RGB") (default), or composite onto white
  --exif-orientation ignore|apply   ignore EXIF orientation like PIL (default), or apply it
  --out DIR               report directory (default reports/compare-<time>, in the folder you run from);
                          checked before any work
  --no-report             do not write a report
  --per-image             also print every image's top-5 tables
  --json                  print one JSON document on stdout (schema: docs/schemas/compare.schema.json)
  -h, --help              this help

Without --clip and --resnet the default models come from the cache. Given only one, only that one runs.
Several models of a kind: repeat the flag or give a list (--clip clip-rn50 --clip clip-vit-b32, or
--clip clip-rn50,clip-vit-b32); each is scored on the same label set and appears in every table and plot under
its own name (document keys clip_2, resnet_2, ...; paired tests take every CLIP against every ResNet).
Exit codes: 0 done (skipped inputs are listed), 1 nothing processed or a model/setup/I/O error, 2 usage error.`;

/** `deno task fp16 --help`. */
export const FP16_HELP = `clipcmp fp16: FP16 vs FP32 latency, throughput, memory and agreement

Usage: deno task fp16 [options]

Options:
  --model clip|resnet|both    which models (default both; CLIP is timed on its image tower)
  --batch 1,8,32,128          batch sizes (a graph with a fixed batch runs only that one)
  --runs N                    timed runs per batch size (default 20)
  --warmup N                  warm-up runs after the first (default 3)
  --device auto|webgpu|wasm   (default auto)
  --engine ort|wgsl           what runs the models: onnxruntime-web (default) or clipcmp's WGSL engine (webgpu)
  --images DIR                sample images for agreement and the self-test (default data/samples/photo)
${MODEL_HELP}
  --json                      one JSON document on stdout (schema: docs/schemas/fp16.schema.json)
  -h, --help                  this help

fp16 models are converted from the fp32 ones in TypeScript (Casts keep fp32 inputs and outputs; reductions,
softmax and normalisation stay fp32) and cached by source hash. Before any fp16 figure is shown, a few samples
run in both precisions: NaN/Inf, or top-1 disagreement on more than a quarter of the clear-margin samples,
stops the run.`;

/** `deno task eval --help`. */
export const EVAL_HELP = `clipcmp eval: accuracy on whole datasets, resumable and sharded

Usage: deno task eval --dataset NAME=DIR [--dataset ...] [options]
       deno task eval --merge DIR [DIR ...] --out DIR

Datasets are ImageFolders named by wnid (ImageNet val in class folders, ImageNet-Sketch, ImageNet-R, -A, or any
subset). Per-image results are appended to DIR/results.jsonl as they are made: rerun with the same --out to
continue after an interruption (even a kill); the final metrics equal an uninterrupted run's. DIR/run.json records
the run's settings (model sha256s, dtype, templates, subset, recipes, datasets, shard): a resume or --merge with
other settings is refused, naming the difference. Only images in the current listing are counted.

Options:
  --model clip|resnet|both    (default both)
  --class-map FILE            class-name ImageFolders: map folder names to ImageNet (lines "name,wnid" or
                              "name,index", or a JSON object); the ResNet scores only classes that map
  --subset imagenet-r|imagenet-a|auto|none   200-way scoring for ImageNet-R/-A; auto detects a 200-class folder
                              set (default auto)
  --reference NAME            the in-distribution dataset: metrics.csv's top1_diff/top5_diff and the report's
                              effective-robustness plots are taken against it (default: the first dataset
                              whose name is not a known shift such as sketch, imagenet-r or imagenet-a)
  --out DIR                   results directory (default reports/eval-<time>, in the folder you run from)
  --limit N                   first N images of each dataset (after sharding)
  --shard i/n                 this machine's share: images i, i+n, i+2n, ... (merge the shards with --merge)
  --batch N                   images per step (default 32)
  --template TEXT | --templates clip80|simple7|FILE
  --device auto|webgpu|wasm
  --engine ort|wgsl           what runs the models: onnxruntime-web (default) or clipcmp's WGSL engine (webgpu)
  --dtype fp32|fp16           precision; fp16 models are used only after a self-test against fp32 on the first
                              images (recorded in run.json: a resume with the other dtype is refused)
  --json                      print metrics.json's document on stdout instead of the table
${MODEL_HELP}
  -h, --help                  this help

Folders named by wnid are ImageNet classes. A dataset with no wnid folder (or any, with --class-map) is a
class-name ImageFolder, as in CLIP_benchmark: each folder is a class, CLIP is prompted with its name (underscores
as spaces) over the dataset's classes, and a ResNet scores only the classes that map to ImageNet.
Several models of a kind: repeat --clip / --resnet or give a list; each is scored on the same images and
classes under its own key (clip_2, resnet_2, ...) and name in the report.
Outputs in DIR: run.json, results.jsonl, metrics.json (CLIP_benchmark-like: acc1, acc5, mean_per_class_recall as
fractions), metrics.csv (timm-like, in %), report.md and report.html (self-contained: intervals, paired tests,
effective robustness, confusions, per-class ranking).`;

/** `deno task zeroshot --help`. */
export const ZEROSHOT_HELP = `clipcmp zeroshot: CLIP zero-shot classification of any images over any labels

Usage: deno task zeroshot IMAGE|DIR ... [options]

Labels (one of; default --imagenet):
  --labels a,b,c          comma-separated labels
  --labels-file FILE      one label per line, or an index dict (imagenet1000_clsidx_to_labels.txt, Python or JSON)
                          ({0: 'tench, Tinca tinca', ...}: indices kept, first name used)
  --imagenet              CLIP's curated names for the 1000 ImageNet classes
Prompts (one of):
  --template TEXT         one template with {} (default "a photo of a {}.")
  --templates SET         clip80, simple7, or a file with one template per line
Options:
  --top-k K               how many labels per image (1..10, default 5)
  --no-logit-scale        softmax over raw cosines, a common mistake (near-uniform probabilities), for
                          comparison only; CLIP multiplies by its logit scale, 100
${CLIP_MODEL_HELP}
  --device auto|webgpu|wasm   (default auto)
  --engine ort|wgsl           what runs the models: onnxruntime-web (default) or clipcmp's WGSL engine (webgpu)
  --dtype fp32|fp16       fp16 models are converted, cached, and used only after a self-test against fp32
  --alpha drop|white, --exif-orientation ignore|apply   as PIL by default
  --json                  one JSON document on stdout (schema: docs/schemas/zeroshot.schema.json)
  -h, --help              this help

Probabilities are softmax(100 · cos(image, label)) over the labels given.`;

/** `deno task shift --help`. */
export const SHIFT_HELP = `clipcmp shift: how accuracy falls as a distribution shift grows

Usage: deno task shift [IMAGE|DIR ...] [options]

Renders each shift at severities 1-5 on the GPU (WGSL kernels; seeded where random), classifies every rendered
image with CLIP (zero-shot) and the ResNet over the same 1000 ImageNet classes, and writes robustness curves.
Images are labelled by a wnid: a file name starting with it (n02128385_leopard.jpg) or an ImageFolder
(DIR/n02128385/*.jpg). Default images: data/samples/photo.

Options:
  --shifts a,b,...           ${SHIFTS.join(", ")} (default all)
  --seed N                   noise seed (default 0; the same seed renders the same images)
  --precision f32|f16        kernel arithmetic (default f32; f16 needs shader-f16)
  --limit N                  first N images
  --batch N                  images per step (default 16)
  --out DIR                  report directory (default reports/shift-<time>, in the folder you run from)
  --template TEXT | --templates clip80|simple7|FILE
  --model clip|resnet|both   (default both)
  --device auto|webgpu|wasm  where the models run (the shifts always run on WebGPU)
  --engine ort|wgsl          what runs the models: onnxruntime-web (default) or clipcmp's WGSL engine (webgpu)
  --dtype fp32|fp16          model precision; fp16 models are used only after a self-test against fp32
  --json                     print results.json's document on stdout
${MODEL_HELP}
  -h, --help                 this help

Outputs in DIR: report.html (curves as inline SVG), results.json, results.csv, contact-sheet.png (first image:
rows are shifts, columns clean and severities 1-5).`;

/** `deno task synsets --help`. */
export const SYNSETS_HELP = `clipcmp synsets: ImageNet classes as WordNet 3.0 synsets

Usage: deno task synsets [CLASS ...] [--json]

CLASS is an index (288), a WordNet id (n02128385) or a name (leopard, "bald eagle", French_bulldog); names
match Keras labels, CLIP names and WordNet lemmas, and a name shared by several classes lists them all.
Without classes it shows the 10 demo classes.

For each class: index, wnid, Keras label, CLIP name, lemmas, gloss and the hypernym chain up to entity. Then the
tree that joins the classes shown, and figures that show why ImageNet is hard: how many classes sit under dog,
bird and others, the sibling groups that are easiest to confuse, and the names that repeat.

Options:
  --json        one JSON document on stdout (schema: docs/schemas/synsets.schema.json)
  -h, --help    this help`;

/** `deno task cache --help`. */
export const CACHE_HELP = `clipcmp cache: list the model cache (files, sizes, sha256) or clear it

Usage: deno task cache [--clear] [--json] [--cache-dir DIR]

  --clear           remove every cached model file, zero-shot head and the lock file
  --cache-dir DIR   the cache (default $CLIPCMP_CACHE_DIR, else ~/.cache/clipcmp)
  --json            one JSON document on stdout
  -h, --help        this help`;

/** `deno task params --help`. */
export const PARAMS_HELP = `clipcmp params: parameter counts read from the weights (safetensors) or the ONNX files

Usage: deno task params [options]

Prints a table (CLIP visual encoder, ResNet, difference) with the text tower and totals,
a breakdown by op type and dtype, and weight bytes in fp32 and fp16. Counts are PyTorch-equivalent: BatchNorm
folded into Convs by the exporter and initializers merged behind Identity nodes are accounted for, and buffers
(BatchNorm statistics, masks, normalisation constants) are not parameters. --json also gives the raw initializer
element counts and an explanation per model.

Options:
${MODEL_HELP}
  --json                  one JSON document on stdout (schema: docs/schemas/params.schema.json)
  -h, --help              this help`;
