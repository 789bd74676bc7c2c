/**
 * The WGSL engine's executor (issue 18) against onnxruntime-web's wasm EP: one small graph per op and attribute
 * set (odd channels, stride 2, padding, batch 1 and 3), the test fixtures, the graphs the canonical builder makes,
 * their fp16 conversions, and what it refuses. Runs on whatever adapter there is (llvmpipe in CI).
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { OnnxGraph } from "../lib/onnx/build.ts";
import { convertToFp16 } from "../lib/onnx/fp16.ts";
import { readOnnx } from "../lib/onnx/external.ts";
import { ModelSession } from "../lib/ort/session.ts";
import { WgslSession } from "../lib/engine/session.ts";
import { fp16SelfCheck } from "../lib/fp16.ts";
import { softmaxCpu } from "../lib/math/cpu.ts";
import { buildClipFromWeights, buildResnetFromWeights } from "../lib/models/canonical.ts";
import { ClipcmpError } from "../lib/errors.ts";
import { assertClose, assertSameTop5, bothEngines, type Feed, randomFeed } from "./_engine.ts";
import { FIX, HAS_F16, HAS_GPU, rng, ROOT, runTaskCli, sharedGpu, tempDir, withDevice } from "./_helpers.ts";

const gpuTest = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: !HAS_GPU, fn });
const f16Test = (name: string, fn: () => Promise<void>) => Deno.test({ name, ignore: !HAS_F16, fn });

/** One graph per op and attribute set, with its feeds. */
function opCases(): { name: string; model: Uint8Array; feeds: Record<string, Feed> }[] {
  const r = rng(18);
  const rand = (n: number) => Float32Array.from({ length: n }, () => r() * 2 - 1);
  const cases: { name: string; model: Uint8Array; feeds: Record<string, Feed> }[] = [];
  const add = (
    name: string,
    inputs: [string, number[]][],
    build: (g: OnnxGraph) => string,
    outDims: (number | string)[],
  ) => {
    const g = new OnnxGraph(name);
    for (const [n, d] of inputs) g.input(n, "float32", d);
    g.op("Identity", [build(g)], {}, "y");
    g.output("y", "float32", outDims);
    cases.push({ name, model: g.toBytes(), feeds: Object.fromEntries(inputs.map(([n, d]) => [n, randomFeed(r, d)])) });
  };
  const conv = (
    g: OnnxGraph,
    x: string,
    cout: number,
    cin: number,
    k: number,
    attrs: Record<string, number[] | number | string>,
    bias = true,
  ) => {
    const w = g.init(g.fresh("w"), [cout, cin, k, k], rand(cout * cin * k * k));
    const ins = bias ? [x, w, g.init(g.fresh("b"), [cout], rand(cout))] : [x, w];
    return g.op("Conv", ins, { kernel_shape: [k, k], ...attrs });
  };
  for (const n of [1, 3]) {
    add(
      `Conv 3x3 stride 2 pad 1, 5 -> 7 channels, batch ${n}`,
      [["x", [n, 5, 9, 11]]],
      (g) => conv(g, "x", 7, 5, 3, { strides: [2, 2], pads: [1, 1, 1, 1] }),
      [n, 7, 5, 6],
    );
  }
  add("Conv 1x1 without bias, SAME_UPPER 3x3 stride 1", [["x", [2, 3, 6, 6]]], (g) => {
    const a = conv(g, "x", 6, 3, 1, {}, false);
    return conv(g, a, 4, 6, 3, { auto_pad: "SAME_UPPER" });
  }, [2, 4, 6, 6]);
  add("Conv + BatchNormalization + residual Add + Relu (fused)", [["x", [3, 4, 5, 5]]], (g) => {
    const c = conv(g, "x", 4, 4, 3, { pads: [1, 1, 1, 1] });
    const bn = g.op("BatchNormalization", [
      c,
      g.init("s", [4], rand(4)),
      g.init("t", [4], rand(4)),
      g.init("m", [4], rand(4)),
      g.init("v", [4], Float32Array.from(rand(4), (v) => v * v + 0.1)),
    ], { epsilon: { f: 1e-3 } });
    return g.op("Relu", [g.op("Add", [bn, "x"])]);
  }, [3, 4, 5, 5]);
  add("standalone BatchNormalization after a Relu", [["x", [2, 3, 4, 4]]], (g) =>
    g.op("BatchNormalization", [
      g.op("Relu", ["x"]),
      g.init("s", [3], rand(3)),
      g.init("t", [3], rand(3)),
      g.init("m", [3], rand(3)),
      g.init("v", [3], Float32Array.from(rand(3), (v) => v * v + 0.1)),
    ]), [2, 3, 4, 4]);
  add("MaxPool 3x3/2 pad 1 and AveragePool count_include_pad, on NHWC conv output", [["x", [3, 3, 9, 9]]], (g) => {
    const c = conv(g, "x", 5, 3, 3, { pads: [1, 1, 1, 1] });
    const m = g.op("MaxPool", [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    return g.op("AveragePool", [m], {
      kernel_shape: [3, 3],
      strides: [1, 1],
      pads: [1, 1, 1, 1],
      count_include_pad: 1,
    });
  }, [3, 5, 5, 5]);
  add("GlobalAveragePool, GlobalMaxPool, Flatten, Gemm transB alpha beta", [["x", [3, 6, 5, 7]]], (g) => {
    const c = conv(g, "x", 6, 6, 1, {});
    const s = g.op("Add", [g.op("GlobalAveragePool", [c]), g.op("GlobalMaxPool", [c])]);
    return g.op(
      "Gemm",
      [g.op("Flatten", [s], { axis: 1 }), g.init("gw", [9, 6], rand(54)), g.init("gb", [9], rand(9))],
      {
        transB: 1,
        alpha: { f: 0.7 },
        beta: { f: 1.3 },
      },
    );
  }, [3, 9]);
  add(
    "Pad (constant value), then a conv",
    [["x", [1, 3, 5, 6]]],
    (g) =>
      conv(
        g,
        g.op("Pad", ["x", g.ints("pads", [0, 0, 1, 2, 0, 0, 2, 1]), g.init("pv", [], new Float32Array([0.25]))]),
        2,
        3,
        3,
        {},
      ),
    [1, 2, 6, 7],
  );
  add("broadcast Add/Sub/Mul/Div/Pow/Min/Max", [["a", [3, 1, 5]], ["b", [4, 1]]], (g) => {
    const s = g.op("Add", ["a", "b"]);
    const t = g.op("Mul", [g.op("Sub", [s, "b"]), g.op("Max", ["a", "b"])]);
    const u = g.op("Div", [
      t,
      g.op("Add", [
        g.op("Pow", ["b", g.init("two", [], new Float32Array([2]))]),
        g.init("one", [], new Float32Array([1])),
      ]),
    ]);
    return g.op("Min", [u, g.op("Pow", [g.op("Abs", [u]), g.init("half", [], new Float32Array([0.5]))])]);
  }, [3, 4, 5]);
  add("unary ops: Sigmoid, Tanh, Exp, Erf, Neg, Sqrt, Reciprocal, Log, Clip", [["x", [2, 3, 7]]], (g) => {
    const a = g.op("Add", [g.op("Sigmoid", ["x"]), g.op("Tanh", ["x"])]);
    const b = g.op("Add", [g.op("Erf", [a]), g.op("Neg", [g.op("Exp", ["x"])])]);
    const pos = g.op("Add", [g.op("Abs", [b]), g.init("eps", [], new Float32Array([0.5]))]);
    const c = g.op("Add", [g.op("Sqrt", [pos]), g.op("Reciprocal", [pos])]);
    return g.op("Clip", [
      g.op("Add", [c, g.op("Log", [pos])]),
      g.init("lo", [], new Float32Array([-0.5])),
      g.init("hi", [], new Float32Array([1.8])),
    ]);
  }, [2, 3, 7]);
  add("Transpose, Slice with steps, Split, Concat with a constant, Reshape", [["x", [3, 4, 5]]], (g) => {
    const t = g.op("Transpose", ["x"], { perm: [2, 0, 1] }); // [5, 3, 4]
    const s = g.op("Slice", [
      t,
      g.ints("st", [1, 0]),
      g.ints("en", [5, 4]),
      g.ints("ax", [0, 2]),
      g.ints("sp", [2, 3]),
    ]); // [2, 3, 2]
    const [p, q] = g.node("Split", [t, g.ints("sz", [1, 3])], 2, { axis: 2 }); // [5,3,1], [5,3,3]
    const c = g.op("Concat", [q!, p!, g.init("k", [5, 3, 2], rand(30))], { axis: 2 }); // [5, 3, 6]
    const flat = g.op("Reshape", [c, g.ints("shp", [-1, 6])]); // [15, 6]
    return g.op("Add", [
      g.op("Reshape", [s, g.ints("shp2", [1, 12])]),
      g.op("Reshape", [
        g.op("Slice", [flat, g.ints("a0", [0]), g.ints("a1", [2]), g.ints("a2", [0])]),
        g.ints("shp3", [1, 12]),
      ]),
    ]);
  }, [1, 12]);
  add("Expand, Unsqueeze, Squeeze, Gather with a constant index, Cast round trip", [["x", [3, 4]]], (g) => {
    const e = g.op("Expand", [g.op("Unsqueeze", ["x", g.ints("u", [0])]), g.ints("es", [2, 3, 4])]); // [2, 3, 4]
    const row = g.op("Gather", [e, g.ints("gi", [1])], { axis: 1 }); // [2, 1, 4]
    const sq = g.op("Squeeze", [row, g.ints("sa", [1])]); // [2, 4]
    const h = g.op("Cast", [g.op("Cast", [sq], { to: 10 })], { to: 1 });
    return g.op("Mul", [h, g.op("Gather", ["x", g.init("gs", [], BigInt64Array.of(-1n))], { axis: 0 })]);
  }, [2, 4]);
  add("ReduceMean/Sum/Max/Min/SumSquare/L2 over runs of axes, keepdims 0 and 1", [["x", [3, 4, 5]]], (g) => {
    const m = g.op("ReduceMean", ["x"], { axes: [1], keepdims: 1 }); // [3,1,5]
    const s = g.op("ReduceSum", ["x", g.ints("ax", [1, 2])], { keepdims: 0 }); // [3]
    const mx = g.op("ReduceMax", ["x"], { axes: [-1], keepdims: 0 }); // [3,4]
    const mn = g.op("ReduceMin", ["x"], { axes: [2], keepdims: 0 });
    const sq = g.op("ReduceSumSquare", ["x"], { axes: [0], keepdims: 0 }); // [4,5]
    const l2 = g.op("ReduceL2", ["x"], { axes: [0, 1], keepdims: 0 }); // [5]
    const a = g.op("Add", [g.op("Add", [mx, mn]), g.op("Unsqueeze", [s, g.ints("u1", [1])])]); // [3,4]
    const b = g.op("Add", [sq, l2]); // [4,5]
    return g.op("Add", [g.op("MatMul", [a, b]), g.op("Squeeze", [m, g.ints("sq", [1])])]); // [3,5]
  }, [3, 5]);
  add(
    "batched MatMul with broadcasting, Softmax on the last axis",
    [["a", [2, 3, 4, 5]], ["b", [3, 5, 6]]],
    (g) => g.op("Softmax", [g.op("MatMul", ["a", "b"])], { axis: -1 }),
    [2, 3, 4, 6],
  );
  add("MatMul + bias + residual + QuickGELU, and + GELU (fused)", [["x", [3, 7, 10]]], (g) => {
    const lin = (x: string, k: number, n: number) =>
      g.op("Add", [g.op("MatMul", [x, g.init(g.fresh("W"), [k, n], rand(k * n))]), g.init(g.fresh("B"), [n], rand(n))]);
    const h = lin("x", 10, 10);
    const q = g.op("Mul", [h, g.op("Sigmoid", [g.op("Mul", [h, g.init("k", [1], new Float32Array([1.702]))])])]);
    const z = g.op("Add", ["x", lin(q, 10, 10)]);
    const t = lin(z, 10, 6);
    return g.op("Mul", [
      g.op("Mul", [t, g.init("h", [1], new Float32Array([0.5]))]),
      g.op("Add", [
        g.op("Erf", [g.op("Mul", [t, g.init("r", [1], new Float32Array([Math.SQRT1_2]))])]),
        g.init("o", [1], new Float32Array([1])),
      ]),
    ]);
  }, [3, 7, 6]);
  add("LayerNormalization over the last axis and over the last two", [["x", [2, 3, 8]]], (g) => {
    const a = g.op("LayerNormalization", ["x", g.init("g1", [8], rand(8)), g.init("b1", [8], rand(8))], {
      axis: -1,
      epsilon: { f: 1e-5 },
    });
    return g.op("LayerNormalization", [a, g.init("g2", [3, 8], rand(24))], { axis: 1 });
  }, [2, 3, 8]);
  return cases;
}

gpuTest(
  "the engine matches ORT wasm op by op: convolutions, pooling, GEMM, elementwise, views, reductions, norms",
  async () => {
    for (const c of opCases()) {
      for (const r of await bothEngines(c.model, c.feeds)) assertClose(r, 1e-4, c.name);
    }
  },
);

gpuTest(
  "token ids: Gather from an embedding table, ArgMax, GatherND at the end-of-text token (int32 and int64 ids)",
  async () => {
    for (const ids of ["int32", "int64"] as const) {
      const g = new OnnxGraph("text");
      g.input("text", ids, [3, 6]);
      const table = Float32Array.from({ length: 50 * 4 }, (_, i) => Math.sin(i));
      const e = g.op("Gather", [g.init("emb", [50, 4], table), "text"], { axis: 0 }); // [3, 6, 4]
      const am = g.op("ArgMax", [g.op("Cast", ["text"], { to: 6 })], { axis: 1, keepdims: 1 });
      g.op("GatherND", [e, am], { batch_dims: 1 }, "y");
      g.output("y", "float32", [3, 4]);
      const raw = [3, 9, 49, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 49, 49, 2, 0, 0];
      const data = ids === "int64" ? BigInt64Array.from(raw, BigInt) : Int32Array.from(raw);
      const [r] = await bothEngines(g.toBytes(), { text: { type: ids, data, dims: [3, 6] } });
      assertClose(r!, 0, `${ids} ids`);
    }
  },
);

const CANONICAL = await (async () => {
  const cache = await tempDir();
  const clip = await buildClipFromWeights(`${FIX}/weights/clip-rn-tiny`, cache);
  const resnet = await buildResnetFromWeights(`${FIX}/weights/resnet-tv-tiny/model.safetensors`, cache);
  return { cache, clip: clip.path, resnet: resnet.path };
})();

/** The fixtures and the canonical builds, with a feed for each at `batch`. */
function models(batch: number): { name: string; path: string; feed: (r: () => number) => Record<string, Feed> }[] {
  const image = (name: string, side: number) => (r: () => number) => ({
    [name]: randomFeed(r, [batch, 3, side, side]),
  });
  const text = (type: "int32" | "int64") => (r: () => number) => {
    const raw = Array.from(
      { length: batch * 77 },
      (_, i) => (i % 77 === 0 ? 49406 : i % 77 < 3 + (i % 5) ? Math.floor(r() * 49000) : 0),
    );
    for (let b = 0; b < batch; b++) raw[b * 77 + 3 + b] = 49407;
    return {
      text: {
        type,
        data: type === "int64" ? BigInt64Array.from(raw, BigInt) : Int32Array.from(raw),
        dims: [batch, 77],
      },
    };
  };
  const out = [
    { name: "resnet-tiny-dyn", path: `${FIX}/resnet-tiny-dyn/model.onnx`, feed: image("image_tensor", 224) },
    { name: "clip-tiny-dyn visual", path: `${FIX}/clip-tiny-dyn/visual/model.onnx`, feed: image("image", 224) },
    { name: "clip-tiny-dyn textual", path: `${FIX}/clip-tiny-dyn/textual/model.onnx`, feed: text("int32") },
    { name: "canonical ResNet", path: CANONICAL.resnet, feed: image("pixel_values", 224) },
    { name: "canonical CLIP visual", path: `${CANONICAL.clip}/visual/model.onnx`, feed: image("image", 64) },
    { name: "canonical CLIP textual", path: `${CANONICAL.clip}/textual/model.onnx`, feed: text("int32") },
  ];
  if (batch === 1) {
    out.push(
      { name: "resnet-tiny", path: `${FIX}/resnet-tiny/model.onnx`, feed: image("image_tensor", 224) },
      { name: "clip-tiny visual", path: `${FIX}/clip-tiny/visual/model.onnx`, feed: image("image", 224) },
      { name: "clip-tiny-int64 textual", path: `${FIX}/clip-tiny-int64/textual/model.onnx`, feed: text("int64") },
    );
  }
  return out;
}

/** Feeds with the dims the graph declares (its image side, its id type). */
async function feedFor(path: string, m: { feed: (r: () => number) => Record<string, Feed> }, batch: number) {
  const s = await ModelSession.load(path, { ep: "wasm" });
  const inp = s.inputs[0]!;
  await s.release();
  const feeds = m.feed(rng(batch));
  const f = Object.values(feeds)[0]!;
  if (inp.type === "float32") {
    return { [inp.name]: randomFeed(rng(batch), [batch, 3, Number(inp.shape[2]), Number(inp.shape[3])]) };
  }
  return { [inp.name]: f };
}

for (const batch of [1, 3]) {
  gpuTest(
    `fixtures and canonical builds at batch ${batch}: the engine matches ORT wasm within 1e-3, with the same top-5`,
    async () => {
      for (const m of models(batch)) {
        const bytes = await readOnnx(m.path);
        for (const r of await bothEngines(bytes, await feedFor(m.path, m, batch))) {
          assertClose(r, 1e-3, m.name);
          assertSameTop5(r, 1e-3, m.name);
        }
      }
    },
  );
}

f16Test(
  "fp16 conversions of the fixtures and canonical builds on the engine pass the fp16 self-test against fp32",
  async () => {
    for (const m of models(3)) {
      const bytes = await readOnnx(m.path);
      const feeds = await feedFor(m.path, m, 3);
      const ort = await ModelSession.fromBytes(m.path, "", bytes, { ep: "wasm" });
      const want = await ort.run(feeds);
      await withDevice(async ({ device }) => {
        const eng = new WgslSession(device, convertToFp16(bytes).model, m.path);
        const got = await eng.run(feeds);
        for (const o of ort.outputs) {
          const a = (await want[o.name]!.getData()) as Float32Array, b = await got[o.name]!.getData();
          const width = o.shape.at(-1) as number;
          const rows = a.length / width;
          // As the tasks' self-test does: compare probabilities (embeddings: a softmax over their dims, scaled).
          const scale = o.name === "embedding" ? 100 : 1;
          const p32 = softmaxCpu(a, rows, width, scale), p16 = softmaxCpu(b, rows, width, scale);
          assertEquals(fp16SelfCheck(p32, p16, rows, width), null, m.name);
          assertClose({ name: o.name, ort: a, wgsl: Float32Array.from(b) }, 2e-2, `${m.name} fp16`);
        }
        for (const t of Object.values(got)) t.dispose();
        await eng.release();
      });
      await ort.release();
    }
  },
);

gpuTest("fusion: BatchNorm, bias, residual and activations fold into the conv and GEMM epilogues", async () => {
  const byName = new Map(opCases().map((c) => [c.name, c.model]));
  await withDevice(({ device }) => {
    const kinds = (name: string) => {
      const eng = new WgslSession(device, byName.get(name)!, name);
      const labels = eng.steps().map((l) => l.split(" ")[0]);
      void eng.release();
      return labels;
    };
    // x to NHWC once (for the conv and its residual), one conv with everything fused, the output back to NCHW.
    assertEquals(kinds("Conv + BatchNormalization + residual Add + Relu (fused)"), ["copy", "conv", "copy"]);
    // Three GEMMs, no elementwise pass left.
    assertEquals(kinds("MatMul + bias + residual + QuickGELU, and + GELU (fused)"), ["gemm", "gemm", "gemm"]);
    return Promise.resolve();
  });
  // The canonical ResNet: every Add and Relu fused, so only convs, pools and the head run.
  const bytes = await readOnnx(CANONICAL.resnet);
  await withDevice(async ({ device }) => {
    const eng = new WgslSession(device, bytes, "resnet");
    const labels = eng.steps();
    await eng.release();
    assertEquals(labels.filter((l) => /^(add|relu)/.test(l)), []);
    // 20 convolutions (the 1x1 stride-1 ones as plain GEMMs over NHWC rows) and the classifier.
    assertEquals(labels.filter((l) => /^(conv|gemm)/.test(l)).length, 21);
    assert(labels.filter((l) => l.startsWith("gemm")).length > 1, "pointwise convs run as GEMMs");
  });
});

gpuTest("one engine session reused across batch sizes (a plan per set of dims) matches ORT wasm at each", async () => {
  // The exported text tower pools at Range(batch) * 77 + argmax: a constant folded from the batch, which a
  // plan for another batch must not reuse.
  const gpu = (await sharedGpu())!;
  for (const path of [`${FIX}/clip-tiny-dyn/textual/model.onnx`, `${FIX}/resnet-tiny-dyn/model.onnx`]) {
    const ort = await ModelSession.load(path, { ep: "wasm" });
    const eng = await ModelSession.load(path, { ep: "webgpu", gpu, engine: "wgsl" });
    const input = ort.inputs[0]!;
    for (const batch of [1, 4, 2, 1, 4]) {
      let feed: Feed;
      if (input.type === "float32") feed = randomFeed(rng(batch), [batch, 3, 224, 224]);
      else {
        const ids = new Int32Array(batch * 77);
        for (let r = 0; r < batch; r++) {
          ids[r * 77] = 49406;
          for (let j = 1; j < 4 + r; j++) ids[r * 77 + j] = (r * 7919 + j * 104729) % 300;
          ids[r * 77 + 4 + r] = 49407;
        }
        feed = { type: "int32", data: ids, dims: [batch, 77] };
      }
      const [a, b] = [await ort.run({ [input.name]: feed }), await eng.run({ [input.name]: feed })];
      const out = ort.outputs[0]!.name;
      const r = {
        name: out,
        ort: Float32Array.from((await a[out]!.getData()) as Float32Array),
        wgsl: Float32Array.from((await b[out]!.getData()) as Float32Array),
      };
      for (const t of Object.values(b)) t.dispose();
      assertClose(r, 1e-3, `${path} batch ${batch}`);
    }
    await ort.release();
    await eng.release();
  }
});

gpuTest("the arena reuses buffers by liveness: far less memory than one buffer per activation", async () => {
  const bytes = await readOnnx(CANONICAL.resnet);
  await withDevice(async ({ device }) => {
    const eng = new WgslSession(device, bytes, "resnet");
    eng.check({ batch: 2 });
    // Sum of every activation the graph makes at batch 2 (NHWC conv outputs dominate).
    const plan = (eng as unknown as { plans: Map<string, { plan: { steps: { bind: unknown[] }[] } }> }).plans;
    const steps = [...plan.values()][0]!.plan.steps;
    const allocs = new Set<{ bytes: number }>();
    for (const s of steps) {
      const out = s.bind.at(-1) as { bytes?: number; fixed?: boolean };
      if (out && typeof out.bytes === "number" && !out.fixed) allocs.add(out as { bytes: number });
    }
    const total = [...allocs].reduce((a, b) => a + b.bytes, 0);
    assert(eng.arenaBytes < total / 2, `arena ${eng.arenaBytes} bytes vs ${total} for one buffer per activation`);
    await eng.release();
  });
});

gpuTest(
  "the engine refuses an op it does not run, and an attribute it does not support, in one line before running",
  async () => {
    const gpu = (await sharedGpu())!;
    const dir = await tempDir();
    const g = new OnnxGraph("lrn");
    g.input("x", "float32", [1, 3, 4, 4]);
    g.op("LRN", ["x"], { size: 3 }, "y");
    g.output("y", "float32", [1, 3, 4, 4]);
    await Deno.writeFile(`${dir}/lrn.onnx`, g.toBytes());
    await rejects(ModelSession.load(`${dir}/lrn.onnx`, { ep: "webgpu", gpu, engine: "wgsl" }), (e: Error) => {
      assert(e instanceof ClipcmpError && !e.message.includes("\n"), e.message);
      return /--engine wgsl: .*lrn\.onnx uses LRN \(1 node\), which the WGSL engine does not run; use --engine ort/
        .test(e.message);
    });
    const h = new OnnxGraph("grouped");
    h.input("x", "float32", ["batch", 4, 4, 4]);
    h.op("Conv", ["x", h.init("w", [4, 2, 1, 1], new Float32Array(8))], { kernel_shape: [1, 1], group: 2 }, "y");
    h.output("y", "float32", ["batch", 4, 4, 4]);
    await Deno.writeFile(`${dir}/grouped.onnx`, h.toBytes());
    await rejects(ModelSession.load(`${dir}/grouped.onnx`, { ep: "webgpu", gpu, engine: "wgsl" }), (e: Error) => {
      assert(!e.message.includes("\n"), e.message);
      return /grouped\.onnx: node "n_Conv_\d+" \(Conv\) with groups is not supported/.test(e.message);
    });
    await rejects(
      ModelSession.load(`${FIX}/resnet-tiny/model.onnx`, { ep: "wasm", engine: "wgsl" }),
      /runs on webgpu only/,
    );
  },
);

Deno.test("--engine wgsl with --device wasm is a usage error naming both flags", async () => {
  const run = await runTaskCli("zeroshot", [
    "--clip",
    `${FIX}/clip-tiny`,
    "--labels",
    "cat,dog",
    "--device",
    "wasm",
    "--engine",
    "wgsl",
    `${ROOT}/data/samples/photo`,
  ]);
  assertEquals(run.code, 2, run.stderr);
  assert(/--engine wgsl runs on webgpu; use --device webgpu/.test(run.stderr), run.stderr);
  const bad = await runTaskCli("compare", ["--engine", "tvm"]);
  assertEquals(bad.code, 2);
  assert(/--engine must be (one of )?ort/.test(bad.stderr), bad.stderr);
});

gpuTest("compare --engine wgsl gives the same predictions as --engine ort on the fixtures", async () => {
  const args = [
    "--clip",
    `${FIX}/clip-tiny`,
    "--resnet",
    `${FIX}/resnet-tiny`,
    "--no-report",
    "--device",
    "webgpu",
    "--json",
    `${ROOT}/data/samples/photo`,
  ];
  const docs = [];
  for (const engine of ["ort", "wgsl"]) {
    const run = await runTaskCli("compare", [...args, "--engine", engine]);
    assertEquals(run.code, 0, run.stderr);
    docs.push(JSON.parse(run.stdout));
  }
  const [ort, wgsl] = docs;
  assert(
    /engine: wgsl/.test(wgsl.provenance.device_reason ?? JSON.stringify(wgsl.provenance)),
    "the run records the engine",
  );
  assertEquals(wgsl.results.length, ort.results.length);
  assert(ort.results.length >= 10);
  const labels = (r: { clip: { top5: { index: number }[] }; resnet: { top5: { index: number }[] } }) => [
    r.clip.top5.map((p) => p.index),
    r.resnet.top5.map((p) => p.index),
  ];
  for (let i = 0; i < ort.results.length; i++) {
    assertEquals(labels(wgsl.results[i]), labels(ort.results[i]), ort.results[i].path);
  }
  assertEquals(wgsl.summary, ort.summary);
});
