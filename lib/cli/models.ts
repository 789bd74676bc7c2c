/**
 * Model flags shared by the tasks: `--clip DIR|ID`, `--resnet FILE|DIR|ID`, `--resnet-input`, `--offline`,
 * `--cache-dir`, `--hub-url`. A value that names a manifest model (and no existing path) is fetched into the
 * cache; with no model flags the manifest's defaults are used.
 *
 * @module
 */
import { cacheDir } from "../models/locate.ts";
import { DEFAULT_ENDPOINT } from "../hub/download.ts";
import { defaultModelId, type ModelFetchOptions } from "../models/manifest.ts";
import type { ResnetInput } from "../models/resnet.ts";
import { type ChosenModels, resolveClipArg, resolveResnetArg } from "../models/resolve.ts";

export { checkAgainstManifest, type ChosenModels, switchToFp16 } from "../models/resolve.ts";
import { info } from "./run.ts";
import { UsageError } from "../errors.ts";

/**
 * The model cache the flags name: `--cache-dir`, else the environment's or the platform's default.
 *
 * @param v Parsed flag values.
 * @returns The directory.
 */
export function cacheDirFlag(v: Record<string, unknown>): string {
  return cacheDir(typeof v["cache-dir"] === "string" ? v["cache-dir"] : undefined);
}

/** The flags' parseArgs options. */
export const MODEL_FLAGS = {
  clip: { type: "string" },
  resnet: { type: "string" },
  "resnet-input": { type: "string" },
  offline: { type: "boolean", default: false },
  "cache-dir": { type: "string" },
  "hub-url": { type: "string" },
  revision: { type: "string" },
  "allow-unpinned": { type: "boolean", default: false },
} as const;

/** The model flags of a task that scores several models of each kind side by side (repeated `--clip`, `--resnet`). */
export const SEVERAL_MODEL_FLAGS = {
  ...MODEL_FLAGS,
  clip: { type: "string", multiple: true },
  resnet: { type: "string", multiple: true },
} as const;

/** The model flags of a task that runs CLIP only (no `--resnet`, `--resnet-input`). */
export const CLIP_MODEL_FLAGS = (({ resnet: _r, "resnet-input": _i, ...rest }) => rest)(MODEL_FLAGS);

const CLIP_HELP =
  `  --clip DIR|NAME         CLIP: a weights directory (open_clip_model.safetensors, open_clip_config.json,
                          tokenizer.json), an ONNX directory (visual/, textual/), or a manifest name
                          (clip-rn50, clip-rn50-immich, clip-vit-b32); default clip-rn50, fetched into the cache`;
const RESNET_HELP =
  `  --resnet FILE|DIR|NAME  ResNet: a .safetensors file or a directory with model.safetensors (torchvision
                          names), a .onnx file (external data beside it is read), a directory with
                          model.onnx, a .zip bundle, or a manifest name (resnet50, resnet50-qualcomm,
                          resnet50-a1); default resnet50
  --resnet-input MODE     imagenet (graph takes ImageNet-normalised input; default for a bare file)
                          or unit (graph normalises [0,1] RGB itself)`;
const HUB_HELP = `  --offline               never download; fail with the missing files named if a model is not cached
  --cache-dir DIR         model cache (default $CLIPCMP_CACHE_DIR, else $XDG_CACHE_HOME/clipcmp, else
                          ~/.cache/clipcmp; ~/Library/Caches/clipcmp on macOS)
  --hub-url URL           model hub (default $HF_ENDPOINT, else ${DEFAULT_ENDPOINT})
  --revision REV          fetch manifest models at REV (a branch, tag or commit) instead of the pinned commit
  --allow-unpinned        with --revision: accept files whose sha256 the manifest does not know (recorded)`;

/** Help text for the flags. */
export const MODEL_HELP = `${CLIP_HELP}\n${RESNET_HELP}\n${HUB_HELP}`;

/** Help text for the flags of a CLIP-only task. */
export const CLIP_MODEL_HELP = `${CLIP_HELP}\n${HUB_HELP}`;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The model arguments of a flag: repeated (`--clip A --clip B`) or a comma-separated list (`--clip A,B`); a value
 * that is an existing path is never split.
 */
function modelArgs(v: unknown): string[] {
  const given = v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)];
  return given.flatMap((a) => {
    if (!a.includes(",")) return [a];
    try {
      Deno.statSync(a);
      return [a];
    } catch {
      return a.split(",").map((x) => x.trim()).filter(Boolean);
    }
  });
}

/** Two models of the same name get `#2`, `#3`, ... so that every table tells them apart. */
function uniqueNames(models: { name: string }[]): void {
  const seen = new Map<string, number>();
  for (const m of models) {
    const n = (seen.get(m.name) ?? 0) + 1;
    seen.set(m.name, n);
    if (n > 1) m.name = `${m.name} #${n}`;
  }
}

/**
 * Resolves the model flags.
 *
 * @param v Parsed flag values.
 * @param want Which models the task uses by default when none is named.
 * @param several Whether the task scores several models of a kind (else a second one is a usage error).
 * @returns The models.
 */
export async function chooseModels(
  v: Record<string, unknown>,
  want: { clip: boolean; resnet: boolean },
  several = false,
): Promise<ChosenModels> {
  const hub: ModelFetchOptions = {
    endpoint: (v["hub-url"] as string | undefined) ?? env("HF_ENDPOINT") ?? DEFAULT_ENDPOINT,
    cacheDir: cacheDirFlag(v),
    offline: v.offline as boolean,
    revision: v.revision as string | undefined,
    allowUnpinned: v["allow-unpinned"] as boolean,
  };
  const clipArgs = modelArgs(v.clip), resnetArgs = modelArgs(v.resnet);
  if (clipArgs.length === 0 && resnetArgs.length === 0) {
    if (want.clip) clipArgs.push(defaultModelId("clip"));
    if (want.resnet) resnetArgs.push(defaultModelId("resnet"));
  }
  if (!several) {
    for (const [flag, args] of [["--clip", clipArgs], ["--resnet", resnetArgs]] as const) {
      if (args.length > 1) throw new UsageError(`${flag} takes one model in this task (compare takes several)`);
    }
  }
  const out: ChosenModels = {};
  const clips = [];
  for (const a of clipArgs) clips.push(await resolveClipArg(a, hub, info));
  const resnets = [];
  for (const a of resnetArgs) {
    resnets.push(await resolveResnetArg(a, v["resnet-input"] as ResnetInput | undefined, hub, info));
  }
  uniqueNames([...clips, ...resnets]);
  if (clips[0]) out.clip = clips[0];
  if (resnets[0]) out.resnet = resnets[0];
  if (clips.length > 1 || resnets.length > 1) out.more = { clip: clips.slice(1), resnet: resnets.slice(1) };
  return out;
}

/**
 * Resolves the model flags of a task with `--model clip|resnet|both`: that flag decides which towers run, whatever
 * model flags were also given.
 *
 * @param v Parsed flag values.
 * @param which `--model`.
 * @param several Whether the task scores several models of a kind.
 * @returns The models.
 */
export function chooseModelsFor(
  v: Record<string, unknown>,
  which: "clip" | "resnet" | "both",
  several = false,
): Promise<ChosenModels> {
  const flags: Record<string, unknown> = { ...v };
  if (which === "resnet") delete flags.clip;
  if (which === "clip") delete flags.resnet;
  return chooseModels(flags, { clip: which !== "resnet", resnet: which !== "clip" }, several);
}
