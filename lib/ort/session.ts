/**
 * A model session on onnxruntime-web's `webgpu` or `wasm` EP. Names, dtypes and shapes of inputs and outputs
 * are read from the session, never assumed. On `webgpu` the session shares our `GPUDevice`, takes inputs
 * straight from GPU buffers and leaves outputs on the GPU.
 *
 * @module
 */
// deno-lint-ignore no-import-prefix -- a full specifier, so that mod.ts imports with no import map
import type { Tensor } from "npm:onnxruntime-web@1.30.0/webgpu";
import { ClipcmpError, firstLine } from "../errors.ts";
import type { GpuContext } from "../gpu/context.ts";
import { loadOrt } from "./runtime.ts";
import { sha256File } from "../fs.ts";
import { readOnnx } from "../onnx/external.ts";
import { onnxOpCounts } from "../onnx/proto.ts";
import { WgslSession } from "../engine/session.ts";
import { checkEngineOps } from "../engine/ops.ts";
import { tilesForAdapter } from "../engine/tiles.ts";

/** An onnxruntime execution provider we use. */
export type Ep = "webgpu" | "wasm";

/** What executes the graph: onnxruntime-web, or clipcmp's own WGSL engine (webgpu only). */
export type Engine = "ort" | "wgsl";

/** The engines, for flag validation. */
export const ENGINES: readonly Engine[] = ["ort", "wgsl"];

/** What a session runs on: an onnxruntime session or a WGSL engine session. */
interface Runner {
  run(feeds: Record<string, unknown>): Promise<Record<string, unknown>>;
  release(): Promise<void>;
}

/** A graph input or output as the session reports it. */
export interface TensorInfo {
  /** The name. */
  name: string;
  /** The element type, e.g. `float32`, `int32`. */
  type: string;
  /** The dims; symbolic dims are strings, unknown dims -1. */
  shape: (number | string)[];
}

/** A CPU tensor for feeds and results. */
export interface HostTensor {
  /** The element type. */
  type: string;
  /** The data. */
  data: Float32Array | Int32Array | BigInt64Array | Uint16Array | Float16Array;
  /** The dims. */
  dims: number[];
}

/** Options for {@linkcode ModelSession.load}. */
export interface SessionOptions {
  /** The execution provider. */
  ep: Ep;
  /** The shared GPU context; required for `webgpu`. */
  gpu?: GpuContext | null;
  /** The engine (default `ort`); `wgsl` needs `webgpu`. */
  engine?: Engine;
}

/** A loaded model. */
export class ModelSession {
  private constructor(
    /** The model file. */
    readonly path: string,
    /** The file's sha256, hex. */
    readonly sha256: string,
    /** The execution provider. */
    readonly ep: Ep,
    /** Graph inputs. */
    readonly inputs: TensorInfo[],
    /** Graph outputs. */
    readonly outputs: TensorInfo[],
    /** Nodes by op type in the graph as loaded (empty when the file could not be walked). */
    readonly ops: Readonly<Record<string, number>>,
    private readonly session: Runner,
    private readonly gpu: GpuContext | null,
    /** The engine that runs the graph. */
    readonly engine: Engine = "ort",
  ) {}

  /**
   * Loads `path` on the given EP.
   *
   * @example
   * ```ts ignore
   * const s = await ModelSession.load("models/fixtures/resnet-tiny/model.onnx", { ep: "wasm" });
   * console.log(s.inputs, s.outputs);
   * ```
   * @param path The `.onnx` file.
   * @param options EP and GPU context.
   * @returns The session.
   */
  static async load(path: string, options: SessionOptions): Promise<ModelSession> {
    const bytes = await readOnnx(path); // with external data (model.onnx + model.data) inlined
    return await ModelSession.fromBytes(path, await sha256File(bytes), bytes, options);
  }

  /**
   * Creates a session from model bytes (for instance a rewritten graph), recorded under the source file's path
   * and hash for provenance.
   *
   * @param path The source file, for messages and provenance.
   * @param sha256 The source file's hash.
   * @param bytes The model to run.
   * @param options EP and GPU context.
   * @returns The session.
   */
  static async fromBytes(
    path: string,
    sha256: string,
    bytes: Uint8Array,
    options: SessionOptions,
  ): Promise<ModelSession> {
    const gpu = options.ep === "webgpu" ? options.gpu ?? null : null;
    if (options.ep === "webgpu" && !gpu) throw new ClipcmpError(`Cannot load "${path}" on webgpu: no GPU adapter`);
    gpu?.assertAlive();
    if (options.engine === "wgsl") return ModelSession.onEngine(path, sha256, bytes, gpu);
    const ort = await loadOrt();
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: gpu ? [{ name: "webgpu", device: gpu.device } as unknown as "webgpu"] : ["wasm"],
        preferredOutputLocation: gpu ? "gpu-buffer" : "cpu",
        graphOptimizationLevel: "all",
        logSeverityLevel: 3,
      });
    } catch (err) {
      throw new ClipcmpError(`Cannot load model "${path}": ${firstLine(err)}`);
    }
    const info = (meta: readonly unknown[]): TensorInfo[] =>
      meta.map((m) => {
        const t = m as { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] };
        return { name: t.name, type: t.type ?? "unknown", shape: [...(t.shape ?? [])] };
      });
    let ops: Record<string, number> = {};
    try {
      ops = onnxOpCounts(bytes);
    } catch {
      ops = {};
    }
    return new ModelSession(
      path,
      sha256,
      options.ep,
      info(session.inputMetadata),
      info(session.outputMetadata),
      ops,
      session as unknown as Runner,
      gpu,
    );
  }

  /** Loads on the WGSL engine: refuses unsupported ops in one line, then plans once for batch 1 to refuse any
   * unsupported attribute or shape before a run. */
  private static onEngine(path: string, sha256: string, bytes: Uint8Array, gpu: GpuContext | null): ModelSession {
    if (!gpu) throw new ClipcmpError(`--engine wgsl runs on webgpu only; "${path}" was to load on wasm`);
    checkEngineOps(bytes, path);
    const engine = new WgslSession(gpu.device, bytes, path, tilesForAdapter(gpu.summary.name));
    try {
      engine.check();
    } catch (err) {
      void engine.release();
      throw err;
    }
    const info = (vs: typeof engine.inputs): TensorInfo[] =>
      vs.map((v) => ({
        name: v.name,
        type: v.type,
        shape: v.dims.map((d) => (typeof d === "number" && d < 0 ? -1 : d)),
      }));
    return new ModelSession(
      path,
      sha256,
      "webgpu",
      info(engine.inputs),
      info(engine.outputs),
      onnxOpCounts(bytes),
      engine as unknown as Runner,
      gpu,
      "wgsl",
    );
  }

  /** The shared GPU context, on `webgpu`. */
  get gpuContext(): GpuContext | null {
    return this.gpu;
  }

  /**
   * Runs with feeds that are CPU arrays or GPU buffers. On `webgpu`, outputs stay on the GPU: the caller reads
   * `gpuBuffer` and must `dispose()` each output.
   *
   * @param feeds Input name to tensor: host data, or `{ buffer, type, dims }` for data already on the GPU.
   * @returns Output name to onnxruntime Tensor.
   */
  async run(
    feeds: Record<string, HostTensor | { buffer: GPUBuffer; type: "float32" | "float16"; dims: number[] }>,
  ): Promise<Record<string, Tensor>> {
    this.gpu?.assertAlive();
    if (this.engine === "wgsl") {
      try {
        return (await this.session.run(feeds)) as unknown as Record<string, Tensor>;
      } catch (err) {
        this.gpu?.assertAlive();
        if (err instanceof ClipcmpError) throw err;
        throw new ClipcmpError(`Cannot run model "${this.path}" on the WGSL engine: ${firstLine(err)}`);
      }
    }
    const ort = await loadOrt();
    const ortFeeds: Record<string, Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) {
      if ("buffer" in feed) {
        ortFeeds[name] = ort.Tensor.fromGpuBuffer(feed.buffer as never, { dataType: feed.type, dims: feed.dims });
      } else {
        ortFeeds[name] = new ort.Tensor(feed.type as "float32", feed.data as Float32Array, feed.dims);
      }
    }
    try {
      return (await this.session.run(ortFeeds)) as Record<string, Tensor>;
    } catch (err) {
      this.gpu?.assertAlive();
      throw new ClipcmpError(`Cannot run model "${this.path}": ${firstLine(err)}`);
    }
  }

  /** Releases the session. */
  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The GPU buffer behind a `gpu-buffer` output tensor.
 *
 * @param t An output of a `webgpu` session.
 * @returns Its buffer.
 */
export function gpuBufferOf(t: Tensor): GPUBuffer {
  return t.gpuBuffer as unknown as GPUBuffer;
}
