/** Running one model on ORT wasm and on the WGSL engine, and comparing what they give. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ModelSession } from "../lib/ort/session.ts";
import { WgslSession } from "../lib/engine/session.ts";
import { topK } from "../lib/math/cpu.ts";
import { withDevice } from "./_helpers.ts";

export type Feed = { type: string; data: Float32Array | Int32Array | BigInt64Array; dims: number[] };

export function randomFeed(r: () => number, dims: number[]): Feed {
  return {
    type: "float32",
    data: Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1),
    dims,
  };
}

/** Runs `model` on ORT wasm and on the engine and returns both outputs, by name. */
export async function bothEngines(
  model: Uint8Array,
  feeds: Record<string, Feed>,
): Promise<{ name: string; ort: Float32Array; wgsl: Float32Array; dims: number[] }[]> {
  const ort = await ModelSession.fromBytes("graph.onnx", "", model, { ep: "wasm" });
  const want = await ort.run(feeds);
  const out: { name: string; ort: Float32Array; wgsl: Float32Array; dims: number[] }[] = [];
  await withDevice(async ({ device }) => {
    const eng = new WgslSession(device, model, "graph.onnx");
    try {
      const got = await eng.run(feeds);
      for (const o of ort.outputs) {
        const a = Float32Array.from((await want[o.name]!.getData()) as ArrayLike<number>);
        const b = Float32Array.from(await got[o.name]!.getData());
        assertEquals([...got[o.name]!.dims], [...want[o.name]!.dims], `${o.name} dims`);
        out.push({ name: o.name, ort: a, wgsl: b, dims: [...want[o.name]!.dims] });
      }
      for (const t of Object.values(got)) t.dispose();
    } finally {
      await eng.release();
    }
  });
  await ort.release();
  return out;
}

/** |wgsl - ort| within `rel` of the output's largest magnitude, element by element. */
export function assertClose(
  r: { name: string; ort: Float32Array; wgsl: Float32Array },
  rel: number,
  what: string,
): void {
  let scale = 0;
  for (const v of r.ort) scale = Math.max(scale, Math.abs(v));
  scale = Math.max(scale, 1e-6);
  for (let i = 0; i < r.ort.length; i++) {
    const err = Math.abs(r.wgsl[i]! - r.ort[i]!);
    assert(err <= rel * scale, `${what} ${r.name}[${i}]: engine ${r.wgsl[i]} vs ORT ${r.ort[i]} (scale ${scale})`);
  }
}

/** The same top-5 per row, wherever ORT's neighbouring scores are more than `gap` (relative) apart. */
export function assertSameTop5(
  r: { ort: Float32Array; wgsl: Float32Array; dims: number[] },
  gap: number,
  what: string,
) {
  const width = r.dims.at(-1)!, rows = r.ort.length / width;
  for (let i = 0; i < rows; i++) {
    const a = r.ort.subarray(i * width, (i + 1) * width), b = r.wgsl.subarray(i * width, (i + 1) * width);
    const scale = Math.max(...a.map(Math.abs), 1e-6);
    const ta = topK(a, Math.min(6, width)), tb = topK(b, Math.min(5, width));
    for (let k = 0; k < tb.length; k++) {
      const clear = k + 1 >= ta.length || a[ta[k]!]! - a[ta[k + 1]!]! > gap * scale;
      const clearBefore = k === 0 || a[ta[k - 1]!]! - a[ta[k]!]! > gap * scale;
      if (clear && clearBefore) assertEquals(tb[k], ta[k], `${what} row ${i} rank ${k + 1}`);
    }
  }
}
