/**
 * A model on the WGSL engine: the graph parsed once, weights uploaded once, one plan per set of input dims
 * (the last two kept), and each run recorded into one command encoder: input copies, every dispatch in one
 * compute pass, output copies. Nothing is read back; outputs are GPU buffers the caller reads or disposes, in the
 * shape onnxruntime-web's `gpu-buffer` outputs have, so the model layers use either engine the same way.
 *
 * @example
 * ```ts ignore
 * const s = new WgslSession(device, await Deno.readFile("model.onnx"), "model.onnx");
 * const out = await s.run({ image: { type: "float32", data, dims: [1, 3, 224, 224] } });
 * const logits = await out.logits.getData();
 * for (const t of Object.values(out)) t.dispose();
 * ```
 *
 * @module
 */
import { ClipcmpError } from "../errors.ts";
import { readBuffer } from "../gpu/readback.ts";
import { elemBytes, type GpuType } from "../../kernels/_specialize.ts";
import { DEFAULT_GEMM_TILES, type GemmTiles } from "../../kernels/gemm.ts";
import { type GraphValue, type ParsedGraph, parseGraph } from "./graph.ts";
import { EngineKernels, ONNX_OF, type Plan, planGraph, type WeightCache } from "./plan.ts";

/** A feed: host data, or a GPU buffer (with COPY_SRC usage) holding the input row-major. */
export type EngineFeed =
  | { type: string; data: Float32Array | Int32Array | BigInt64Array | Uint16Array | Float16Array; dims: number[] }
  | { buffer: GPUBuffer; type: "float32" | "float16"; dims: number[] };

/** An output, shaped like onnxruntime-web's `gpu-buffer` tensors. */
export interface EngineTensor {
  readonly type: string;
  readonly dims: readonly number[];
  readonly location: "gpu-buffer";
  readonly gpuBuffer: GPUBuffer;
  /** Reads the data back (one round trip). */
  getData(): Promise<Float32Array | Float16Array | Int32Array>;
  /** Frees the buffer. */
  dispose(): void;
}

const PLANS_KEPT = 2;

/** One model on the engine. */
export class WgslSession {
  private readonly graph: ParsedGraph;
  private readonly kernels: EngineKernels;
  private readonly weights: WeightCache = new Map();
  private readonly plans = new Map<string, { plan: Plan; params: GPUBuffer[]; groups: GPUBindGroup[] }>();

  /**
   * Parses the graph; planning (and refusing what the engine cannot run) happens per set of input dims, and
   * {@linkcode WgslSession.check} plans once up front.
   *
   * @param device The device.
   * @param model The ONNX bytes, external data inlined.
   * @param file Its path, for messages.
   * @param tiles GEMM tiles.
   */
  constructor(
    readonly device: GPUDevice,
    model: Uint8Array,
    readonly file: string,
    tiles: GemmTiles = DEFAULT_GEMM_TILES,
  ) {
    try {
      this.graph = parseGraph(model);
    } catch (err) {
      throw new ClipcmpError(`--engine wgsl: cannot read "${file}": ${err instanceof Error ? err.message : err}`);
    }
    this.kernels = new EngineKernels(device, tiles);
  }

  /** Graph inputs. */
  get inputs(): GraphValue[] {
    return this.graph.inputs;
  }

  /** Graph outputs. */
  get outputs(): GraphValue[] {
    return this.graph.outputs;
  }

  /**
   * Plans the graph for `dims` (symbolic dims given by name, e.g. `{ batch: 1 }`), so that an op or shape the
   * engine cannot run is refused before any work.
   */
  check(symbols: Readonly<Record<string, number>> = {}): void {
    this.planFor(this.dimsFor(symbols));
  }

  /**
   * The dispatches a plan records, by label (kernel and shape), for the input dims `check` would use: what was
   * fused and what was copied, for tests and for reading a plan.
   */
  steps(symbols: Readonly<Record<string, number>> = {}): string[] {
    return this.planFor(this.dimsFor(symbols)).plan.steps.map((s) => s.call.label);
  }

  /** Floating-point operations of one run at these dims: the GEMMs and convolutions (multiply-adds count two). */
  flops(symbols: Readonly<Record<string, number>> = {}): number {
    return this.planFor(this.dimsFor(symbols)).plan.steps.reduce((s, x) => s + (x.call.flops ?? 0), 0);
  }

  private dimsFor(symbols: Readonly<Record<string, number>>): Record<string, number[]> {
    const dims: Record<string, number[]> = {};
    for (const i of this.graph.inputs) {
      dims[i.name] = i.dims.map((d) => (typeof d === "number" && d > 0 ? d : symbols[String(d)] ?? 1));
    }
    return dims;
  }

  private planFor(dims: Record<string, number[]>) {
    const key = JSON.stringify(dims);
    let p = this.plans.get(key);
    if (p) {
      this.plans.delete(key);
      this.plans.set(key, p); // most recently used last
      return p;
    }
    const plan = planGraph(this.graph, this.file, dims, this.kernels, this.weights);
    const params = plan.steps.map((s) => {
      const b = this.device.createBuffer({
        label: `${s.call.label} params`,
        size: Math.max(16, Math.ceil(s.call.params.byteLength / 16) * 16),
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(b, 0, s.call.params);
      return b;
    });
    const groups = plan.steps.map((s, i) =>
      this.device.createBindGroup({
        label: s.call.label,
        layout: s.call.pipeline.getBindGroupLayout(0),
        entries: [params[i]!, ...s.bind.map((b) => (b instanceof GPUBuffer ? b : b.buffer!))].map((
          buffer,
          binding,
        ) => ({
          binding,
          resource: { buffer },
        })),
      })
    );
    p = { plan, params, groups };
    this.plans.set(key, p);
    while (this.plans.size > PLANS_KEPT) {
      const [oldKey, old] = this.plans.entries().next().value!;
      this.plans.delete(oldKey);
      for (const b of [...old.params, ...old.plan.arena]) b.destroy();
    }
    return p;
  }

  /** Bytes of activation memory the current plans' arenas hold (inputs and weights not included). */
  get arenaBytes(): number {
    return [...this.plans.values()].reduce((s, p) => s + p.plan.arenaBytes, 0);
  }

  /**
   * Runs the graph.
   *
   * @param feeds Input name to host data or GPU buffer.
   * @returns Output name to GPU tensor; dispose each.
   */
  run(feeds: Readonly<Record<string, EngineFeed>>): Promise<Record<string, EngineTensor>> {
    const dims: Record<string, number[]> = {};
    for (const i of this.graph.inputs) {
      const f = feeds[i.name];
      if (!f) throw new ClipcmpError(`--engine wgsl: ${this.file}: no feed for input "${i.name}"`);
      if (f.dims.length !== i.dims.length || i.dims.some((d, k) => typeof d === "number" && d > 0 && d !== f.dims[k])) {
        throw new ClipcmpError(
          `--engine wgsl: ${this.file}: input "${i.name}" has dims [${f.dims}], the graph [${i.dims}]`,
        );
      }
      dims[i.name] = [...f.dims];
    }
    const { plan, groups } = this.planFor(dims);
    const enc = this.device.createCommandEncoder({ label: `engine run ${this.file}` });
    for (const inp of plan.inputs) {
      const f = feeds[inp.name]!;
      const bytes = inp.dims.reduce((a, b) => a * b, 1) * elemBytes(inp.type);
      if ("buffer" in f) {
        const want = ONNX_OF[inp.type];
        if (f.type !== want) {
          throw new ClipcmpError(`--engine wgsl: ${this.file}: input "${inp.name}" is ${want}, fed ${f.type}`);
        }
        if (f.buffer.size < bytes) {
          throw new ClipcmpError(`--engine wgsl: ${this.file}: input "${inp.name}" buffer is too small`);
        }
        enc.copyBufferToBuffer(f.buffer, 0, inp.alloc.buffer!, 0, Math.ceil(bytes / 4) * 4);
      } else {
        this.device.queue.writeBuffer(inp.alloc.buffer!, 0, hostData(f.data, inp.type, inp.name, this.file));
      }
    }
    const pass = enc.beginComputePass({ label: `engine ${this.file}` });
    plan.steps.forEach((s, i) => {
      pass.setPipeline(s.call.pipeline);
      pass.setBindGroup(0, groups[i]!);
      pass.dispatchWorkgroups(...s.call.groups);
    });
    pass.end();
    const out: Record<string, EngineTensor> = {};
    for (const o of plan.outputs) {
      const t = o.tensor;
      const bytes = Math.ceil((t.dims.reduce((a, b) => a * b, 1) * elemBytes(t.type)) / 4) * 4;
      const buf = this.device.createBuffer({
        label: `${this.file} ${o.name}`,
        size: Math.max(16, bytes),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      enc.copyBufferToBuffer(t.alloc.buffer!, 0, buf, 0, bytes);
      out[o.name] = engineTensor(this.device, buf, t.type, t.dims);
    }
    this.device.queue.submit([enc.finish()]);
    return Promise.resolve(out);
  }

  /** Frees plans, weights and kernels. */
  release(): Promise<void> {
    for (const p of this.plans.values()) for (const b of [...p.params, ...p.plan.arena]) b.destroy();
    this.plans.clear();
    for (const b of this.weights.values()) b.destroy();
    this.weights.clear();
    this.kernels.release();
    return Promise.resolve();
  }
}

function hostData(
  data: Float32Array | Int32Array | BigInt64Array | Uint16Array | Float16Array,
  type: GpuType,
  name: string,
  file: string,
): Uint8Array<ArrayBuffer> {
  let arr: Float32Array | Float16Array | Int32Array;
  if (type === "i32") {
    if (data instanceof BigInt64Array) arr = Int32Array.from(data, (v) => Number(v));
    else if (data instanceof Int32Array) arr = data;
    else throw new ClipcmpError(`--engine wgsl: ${file}: input "${name}" needs integer data`);
  } else if (type === "f16") arr = data instanceof Float16Array ? data : Float16Array.from(data as Float32Array);
  else arr = data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
  const bytes = new Uint8Array(Math.ceil(arr.byteLength / 4) * 4);
  bytes.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  return bytes;
}

function engineTensor(device: GPUDevice, buffer: GPUBuffer, type: GpuType, dims: readonly number[]): EngineTensor {
  const count = dims.reduce((a, b) => a * b, 1);
  return {
    type: ONNX_OF[type],
    dims: [...dims],
    location: "gpu-buffer",
    gpuBuffer: buffer,
    async getData() {
      const raw = await readBuffer(device, buffer, 0, Math.ceil((count * elemBytes(type)) / 4) * 4);
      if (type === "f16") return new Float16Array(raw, 0, count);
      return type === "i32" ? new Int32Array(raw, 0, count) : new Float32Array(raw, 0, count);
    },
    dispose() {
      buffer.destroy();
    },
  };
}
