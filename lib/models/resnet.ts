/**
 * An ImageNet ResNet: where its `.onnx` is, which preprocessing it needs, and running it.
 *
 * A bare `.onnx` file gets torchvision's recipe with ImageNet normalisation; `input: "unit"` says the graph
 * normalises [0,1] input itself (as qualcomm/ResNet50 does). A directory holds `model.onnx` (or
 * `onnx/model.onnx`) and may carry a Hugging Face `preprocessor_config.json` whose `do_normalize`,
 * `image_mean` and `image_std` override the normalisation.
 *
 * @module
 */
import { ClipcmpError, firstLine } from "../errors.ts";
import type { RgbaImage } from "../image/decode.ts";
import { type Recipe, TORCHVISION_RECIPE, unitRecipe } from "../preprocess/recipe.ts";
import { ModelSession, type SessionOptions } from "../ort/session.ts";
import { statOrNull } from "../fs.ts";
import {
  releaseVisionBuffers,
  type Rows,
  runVision,
  type RunVisionOptions,
  tryVisionBatchRewrite,
  validateVisionGraph,
  type VisionGraph,
} from "./vision.ts";

/** How a ResNet graph wants its input: ImageNet-normalised, or [0,1] RGB. */
export type ResnetInput = "imagenet" | "unit";

/** Where a ResNet model is and how to feed it. */
export interface ResnetSource {
  /** The `.onnx` file. */
  model: string;
  /** The preprocessing recipe. */
  recipe: Recipe;
}

/**
 * Resolves `--resnet FILE|DIR` and `--resnet-input`.
 *
 * @example
 * ```ts ignore
 * const src = await resolveResnet("models/fixtures/resnet-tiny");
 * console.log(src.model, src.recipe.name); // .../model.onnx torchvision-unit
 * ```
 * @param path A `.onnx` file or a model directory.
 * @param input Overrides what the file or directory says about normalisation.
 * @returns The source.
 */
export async function resolveResnet(path: string, input?: ResnetInput): Promise<ResnetSource> {
  const st = await statOrNull(path);
  if (!st) throw new ClipcmpError(`--resnet "${path}": no such file or directory`);
  let model = path;
  let normalize = true;
  let mean = TORCHVISION_RECIPE.mean;
  let filter = TORCHVISION_RECIPE.filter;
  let resize = TORCHVISION_RECIPE.resize;
  let crop = TORCHVISION_RECIPE.crop;
  let std = TORCHVISION_RECIPE.std;
  if (st.isDirectory) {
    const candidates = [`${path}/model.onnx`, `${path}/onnx/model.onnx`];
    const found = [];
    for (const c of candidates) if ((await statOrNull(c))?.isFile) found.push(c);
    if (found.length === 0) {
      throw new ClipcmpError(`--resnet "${path}": no model.onnx or onnx/model.onnx in this directory`);
    }
    model = found[0]!;
    const cfgPath = `${path}/preprocessor_config.json`;
    if ((await statOrNull(cfgPath))?.isFile) {
      let cfg: Record<string, unknown>;
      try {
        cfg = JSON.parse(await Deno.readTextFile(cfgPath));
      } catch (err) {
        throw new ClipcmpError(`Cannot read "${cfgPath}": ${firstLine(err)}`);
      }
      if (cfg.do_normalize === false) normalize = false;
      // Hugging Face image processors: resample 2 is bilinear, 3 bicubic; ConvNext-style processors resize the
      // short side to shortest_edge / crop_pct and centre-crop shortest_edge (PIL underneath, as here).
      if (cfg.resample === 3) filter = "bicubic";
      else if (cfg.resample === 2) filter = "bilinear";
      const size = cfg.size as { shortest_edge?: number } | undefined;
      const cropPct = cfg.crop_pct as number | undefined;
      const posInt = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x > 0 && x <= 8192;
      if (size?.shortest_edge !== undefined && !posInt(size.shortest_edge)) {
        throw new ClipcmpError(
          `"${cfgPath}": size.shortest_edge must be a positive integer, got ${size.shortest_edge}`,
        );
      }
      if (cropPct !== undefined && !(typeof cropPct === "number" && cropPct > 0 && cropPct <= 1)) {
        throw new ClipcmpError(`"${cfgPath}": crop_pct must be in (0, 1], got ${cropPct}`);
      }
      const cs0 = cfg.crop_size as { height?: number } | undefined;
      if (cs0?.height !== undefined && !posInt(cs0.height)) {
        throw new ClipcmpError(`"${cfgPath}": crop_size.height must be a positive integer, got ${cs0.height}`);
      }
      if (size?.shortest_edge && cropPct) {
        crop = size.shortest_edge;
        resize = Math.trunc(size.shortest_edge / cropPct);
      } else if (size?.shortest_edge) {
        resize = size.shortest_edge;
        const cs = cfg.crop_size as { height?: number } | undefined;
        crop = cs?.height ?? TORCHVISION_RECIPE.crop;
      }
      const triple = (v: unknown) =>
        Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === "number" && Number.isFinite(x));
      if (cfg.image_mean !== undefined) {
        if (!triple(cfg.image_mean)) throw new ClipcmpError(`"${cfgPath}": image_mean must be three numbers`);
        mean = cfg.image_mean as [number, number, number];
      }
      if (cfg.image_std !== undefined) {
        if (!triple(cfg.image_std) || !(cfg.image_std as number[]).every((x) => x > 0)) {
          throw new ClipcmpError(`"${cfgPath}": image_std must be three positive numbers (a 0 divides by zero)`);
        }
        std = cfg.image_std as [number, number, number];
      }
    }
  } else if (!path.endsWith(".onnx")) {
    throw new ClipcmpError(`--resnet "${path}": expected a .onnx file or a model directory`);
  }
  if (input) normalize = input === "imagenet";
  const base = { ...TORCHVISION_RECIPE, filter, resize, crop };
  const recipe = normalize ? { ...base, mean, std } : unitRecipe(base);
  return { model, recipe };
}

/** A loaded ImageNet classifier. */
export class ResnetModel {
  private constructor(
    /** Where it came from. */
    readonly source: ResnetSource,
    /** The validated graph. */
    readonly graph: VisionGraph,
  ) {}

  /**
   * Loads and validates a ResNet: one float image input, a [N,1000] output.
   *
   * @param source From {@linkcode resolveResnet}.
   * @param options EP and GPU context; `batchRewrite: false` keeps a batch-1 graph as it is (by default it is
   *   rewritten to a dynamic batch when that reproduces the original's outputs).
   * @returns The model.
   */
  static async load(
    source: ResnetSource,
    options: SessionOptions & { batchRewrite?: boolean; log?: (line: string) => void },
  ): Promise<ResnetModel> {
    const session = await ModelSession.load(source.model, options);
    let graph = validateVisionGraph(session, source.recipe.crop);
    if (graph.batch === 1 && options.batchRewrite !== false) {
      const rewritten = await tryVisionBatchRewrite(graph, source.recipe.crop, options);
      if (rewritten) {
        await session.release();
        graph = rewritten;
        options.log?.(`ResNet: batch rewritten from 1 to dynamic (outputs verified against the original)`);
      } else options.log?.(`ResNet: batch fixed at 1 (the rewrite did not reproduce the original)`);
    }
    if (graph.width !== 1000) {
      throw new ClipcmpError(
        `Model "${source.model}" output "${graph.output.name}" has ${graph.width} classes, expected 1000`,
      );
    }
    return new ResnetModel(source, graph);
  }

  /**
   * 1000 logits per image.
   *
   * @param images Decoded images.
   * @param options Batch size and stage clock.
   * @returns [n, 1000] logits on the GPU (webgpu) or CPU (wasm).
   */
  logits(images: readonly RgbaImage[], options?: RunVisionOptions): Promise<Rows> {
    return runVision(this.graph, images, this.source.recipe, options);
  }

  /** Releases the session and its input buffers. */
  release(): Promise<void> {
    releaseVisionBuffers(this.graph);
    return this.graph.session.release();
  }

  /** `await using model = await ResnetModel.load(…)` releases it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
