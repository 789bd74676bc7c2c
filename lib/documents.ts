/**
 * The documents the tasks produce, as types only: a leaf module, so that the report writers and the task cores
 * both depend on it and not on each other.
 *
 * @module
 */
import type { Accuracy, ClassRow, DomainSummary, LikeForLike } from "./report/metrics.ts";

/** A score: the prompting label, its ImageNet index, and a probability over the label set scored. */
export interface Score {
  /** The label used for prompting (CLIP's curated name for ImageNet classes). */
  label: string;
  /** The ImageNet class index. */
  index: number;
  /** Probability in [0,1]. */
  score: number;
}

/** One evaluated image. */
export interface CompareResult {
  /** The path as given. */
  path: string;
  /** The domain it belongs to. */
  domain: string;
  /** The true class. */
  true: { label: string; index: number; wnid: string };
  /** CLIP's top-5 over the label set, or null when CLIP was not run. */
  clip: { top5: Score[] } | null;
  /** ResNet's top-5 over the label set and over all 1000 classes, or null when ResNet was not run. */
  resnet: { top5: Score[]; top5_1000: Score[] } | null;
  /** The further models' top-5 over the label set, by key (`clip_2`, `resnet_2`, ...), when any ran. */
  more?: Record<string, { top5: Score[] }>;
}

/** A further model of a compare run, beside the first CLIP and the first ResNet. */
export type MoreModel =
  | {
    key: string;
    kind: "clip";
    name: string;
    dir: string;
    visual: ModelFile;
    textual: ModelFile;
    preprocessing: string;
  }
  | (ModelFile & { key: string; kind: "resnet"; name: string; preprocessing: string });

/** A model file, its hash and its raw initializer element count. */
export interface ModelFile {
  /** The path. */
  path: string;
  /** Hex sha256. */
  sha256: string;
  /** Elements in the graph's initializers (raw ONNX count; BatchNorm may be folded). */
  initializer_elements: number;
  /** Set when the graph computes exact GELU where OpenAI's CLIP uses QuickGELU. */
  activation_note?: string;
}

/** The whole `compare --json` document (see docs/schemas/compare.schema.json). */
export interface CompareDocument {
  /** Always `clipcmp`. */
  tool: "clipcmp";
  /** Tool version. */
  version: string;
  /** Always `compare`. */
  task: "compare";
  /** How the numbers were made. */
  provenance: {
    time: string;
    ep: string;
    device_reason: string;
    adapter: string | null;
    dtype: "fp32" | "fp16";
    templates: string[];
    logit_scale: number;
    models: {
      clip: {
        name: string;
        dir: string;
        visual: ModelFile;
        textual: ModelFile;
        tokenizer: string;
        preprocessing: string;
      } | null;
      resnet: (ModelFile & { name: string; preprocessing: string }) | null;
      /** Further models scored on the same label set, in flag order. */
      more: MoreModel[];
    };
  };
  /** The label set both models were scored on, in index order. */
  label_set: { label: string; index: number; wnid: string }[];
  /** Per-domain accuracies, in input order. */
  domains: DomainSummary[];
  /** Pairs of domains compared on the classes they share. */
  like_for_like: LikeForLike[];
  /** Per-class hits per domain. */
  per_class: ClassRow[];
  /** Per image, in input order. */
  results: CompareResult[];
  /** Inputs that could not be used, with the reason. */
  skipped: { path: string; domain: string; reason: string }[];
  /** Accuracies over all images. */
  summary: {
    n: number;
    skipped: number;
    clip: Accuracy | null;
    resnet: Accuracy | null;
    resnet_1000: Accuracy | null;
    /** The further models' accuracies over all images, by key. */
    more: Record<string, Accuracy>;
  };
  /** Why the run stopped before the end (a lost GPU device), or null when it completed. */
  incomplete: string | null;
}

/** One line of eval's `results.jsonl`: an image and each model's top-5 over the dataset's columns. */
export interface EvalLine {
  /** Dataset name. */
  dataset: string;
  /** Image path. */
  path: string;
  /** True class index. */
  true: number;
  /** Per model: top-5 ImageNet indices over the dataset's columns. */
  top5: Record<string, number[]>;
}
