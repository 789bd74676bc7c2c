/**
 * Loading the further models of a run (repeated `--clip` / `--resnet`), for the task cores that score several
 * models of each kind side by side (compare, eval).
 *
 * @module
 */
import { ClipModel } from "./clip.ts";
import { ResnetModel } from "./resnet.ts";
import { checkAgainstManifest, type ChosenModels, moreModelKey } from "./resolve.ts";

/** A further model, loaded: its document key (`clip_2`, ...), the model, and its display name. */
export interface LoadedMore<M> {
  key: string;
  model: M;
  name: string;
}

/**
 * Loads `chosen.more` in flag order, each checked against its manifest entry, into `into`: pushed one by one, so
 * that what loaded before a failure is in `into` for the caller's `finally` to release.
 *
 * @example
 * ```ts ignore
 * const more = { clip: [], resnet: [] };
 * try { await loadMoreModels(chosen, { ...device, log }, more); } finally {
 *   for (const m of [...more.clip, ...more.resnet]) await m.model.release();
 * }
 * ```
 * @param chosen The run's models.
 * @param options What every model is loaded with (device, log).
 * @param into Where the loaded models go.
 */
export async function loadMoreModels(
  chosen: ChosenModels,
  options: Parameters<typeof ClipModel.load>[1] & Parameters<typeof ResnetModel.load>[1],
  into: { clip: LoadedMore<ClipModel>[]; resnet: LoadedMore<ResnetModel>[] },
): Promise<void> {
  for (const [i, c] of (chosen.more?.clip ?? []).entries()) {
    const model = await ClipModel.load(c.dir, options);
    into.clip.push({ key: moreModelKey("clip", i), model, name: c.name });
    checkAgainstManifest({ clip: c }, model);
  }
  for (const [i, r] of (chosen.more?.resnet ?? []).entries()) {
    const model = await ResnetModel.load(r.source, options);
    into.resnet.push({ key: moreModelKey("resnet", i), model, name: r.name });
    checkAgainstManifest({ resnet: r }, undefined, model);
  }
}
