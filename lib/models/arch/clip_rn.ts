/**
 * OpenAI's CLIP with a modified-ResNet image tower (RN50 and its kin) as two ONNX graphs, built from the state
 * dict with OpenAI's tensor names (as open_clip loads them from `open_clip_model.safetensors`).
 *
 * Image tower (`visual.*`, OpenAI's `ModifiedResNet`): a stem of three 3×3 convs (`conv1` stride 2, `conv2`,
 * `conv3`, each with BatchNorm and ReLU) and a 2×2 AvgPool; four stages of Bottlenecks whose stride is an AvgPool
 * placed after the 3×3 conv, with the shortcut `downsample = (AvgPool(stride), conv "0", BatchNorm "1")`; then
 * attention pooling: the spatial mean is prepended as a token, `positional_embedding` added, and that first token
 * attends over all tokens with `q_proj`, `k_proj`, `v_proj` and `c_proj` (heads = width·32 / head_width).
 *
 * Text tower: `token_embedding` + `positional_embedding`, pre-LN residual blocks (`ln_1`, `attn` with
 * `in_proj_weight` = [q; k; v] and a causal mask built here, `ln_2`, `mlp.c_fc`, activation, `mlp.c_proj`),
 * pooling at the first argmax of the token ids (the end-of-text token has the largest id), `ln_final` and
 * `x @ text_projection`. The activation is QuickGELU `x·σ(1.702x)`, as OpenAI's weights were trained, unless the
 * config says `quick_gelu: false` (then exact GELU through `Erf`).
 *
 * Both graphs have a dynamic batch. Inputs `image` [batch, 3, S, S] (CLIP-normalised) and `text` int32
 * [batch, context]; each outputs `embedding` (not L2-normalised; clipcmp's cosine normalises).
 *
 * @module
 */
import { OnnxGraph } from "../../onnx/build.ts";
import type { Safetensors } from "../../weights/safetensors.ts";
import { convBn, countBlocks, StateDict, transpose2d } from "./weights.ts";

/** The parts of `open_clip_config.json` the builder reads. */
export interface ClipConfig {
  /** `model_cfg.embed_dim`. */
  embedDim?: number;
  /** `model_cfg.quick_gelu` (OpenAI weights: true). */
  quickGelu: boolean;
  /** `vision_cfg.head_width` (default 64). */
  visionHeadWidth?: number;
  /** `text_cfg.heads` (default width / 64). */
  textHeads?: number;
}

/** What was built. */
export interface BuiltClip {
  /** The image tower. */
  visual: Uint8Array;
  /** The text tower. */
  textual: Uint8Array;
  /** Architecture, as read from the shapes. */
  arch: {
    layers: number[];
    visionWidth: number;
    visionHeads: number;
    imageSize: number;
    embedDim: number;
    textWidth: number;
    textHeads: number;
    textLayers: number;
    contextLength: number;
    vocabSize: number;
    activation: "quick_gelu" | "gelu";
    logitScale: number | null;
  };
}

/** Parses the fields the builder needs from `open_clip_config.json` text; missing fields keep OpenAI's values. */
export function parseClipConfig(json: unknown): ClipConfig {
  const root = (json ?? {}) as Record<string, unknown>;
  const m = (root.model_cfg ?? root) as Record<string, unknown>;
  const vision = (m.vision_cfg ?? {}) as Record<string, unknown>;
  const text = (m.text_cfg ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v > 0 ? v : undefined);
  return {
    embedDim: num(m.embed_dim),
    quickGelu: m.quick_gelu !== false,
    visionHeadWidth: num(vision.head_width),
    textHeads: num(text.heads),
  };
}

const IGNORABLE = [
  /(^|\.)num_batches_tracked$/,
  /^attn_mask$/,
  /^input_resolution$/,
  /^context_length$/,
  /^vocab_size$/,
];

function linear(g: OnnxGraph, sd: StateDict, prefix: string, x: string, inF: number, outF: number): string {
  const w = sd.take(`${prefix}.weight`, [outF, inF]);
  const b = sd.take(`${prefix}.bias`, [outF]);
  const W = g.init(`${prefix}.weight_t`, [inF, outF], transpose2d(w.data, outF, inF));
  return g.op("Add", [g.op("MatMul", [x, W]), g.init(`${prefix}.bias`, [outF], b.data)]);
}

function buildVisual(sd: StateDict, cfg: ClipConfig, metadata: Record<string, string>) {
  const g = new OnnxGraph("clip_modified_resnet");
  const v = "visual";
  const half = sd.shapeOf(`${v}.conv1.weight`)[0]!;
  const width = sd.shapeOf(`${v}.conv3.weight`)[0]!;
  const pos = sd.shapeOf(`${v}.attnpool.positional_embedding`);
  const embed = width * 32;
  const tokens = pos[0]! - 1;
  const side = Math.round(Math.sqrt(tokens));
  if (pos.length !== 2 || pos[1] !== embed || side * side !== tokens) {
    throw sd.error(
      `tensor "${v}.attnpool.positional_embedding" has shape [${pos.join(",")}], expected [S²+1, ${embed}]`,
    );
  }
  const imageSize = side * 32;
  const headWidth = cfg.visionHeadWidth ?? 64;
  const heads = embed / headWidth;
  if (!Number.isInteger(heads)) throw sd.error(`the attention pool's width ${embed} is not a multiple of ${headWidth}`);
  const outDim = sd.shapeOf(`${v}.attnpool.c_proj.weight`)[0]!;
  g.input("image", "float32", ["batch", 3, imageSize, imageSize]);
  let x = g.op("Relu", [convBn(g, sd, `${v}.conv1`, `${v}.bn1`, "image", 3, half, 3, { stride: 2, pad: 1 })]);
  x = g.op("Relu", [convBn(g, sd, `${v}.conv2`, `${v}.bn2`, x, half, half, 3, { pad: 1 })]);
  x = g.op("Relu", [convBn(g, sd, `${v}.conv3`, `${v}.bn3`, x, half, width, 3, { pad: 1 })]);
  const avg = (t: string, k: number) => g.op("AveragePool", [t], { kernel_shape: [k, k], strides: [k, k] });
  x = avg(x, 2);
  let inplanes = width;
  const layers: number[] = [];
  for (let L = 1; L <= 4; L++) {
    const blocks = countBlocks(sd, `${v}.layer${L}`, "conv1.weight");
    if (blocks === 0) throw sd.error(`tensor "${v}.layer${L}.0.conv1.weight" is missing`);
    layers.push(blocks);
    const planes = width * 2 ** (L - 1);
    for (let M = 0; M < blocks; M++) {
      const p = `${v}.layer${L}.${M}`;
      const stride = M === 0 && L > 1 ? 2 : 1;
      let h = g.op("Relu", [convBn(g, sd, `${p}.conv1`, `${p}.bn1`, x, inplanes, planes, 1)]);
      h = g.op("Relu", [convBn(g, sd, `${p}.conv2`, `${p}.bn2`, h, planes, planes, 3, { pad: 1 })]);
      if (stride > 1) h = avg(h, stride);
      h = convBn(g, sd, `${p}.conv3`, `${p}.bn3`, h, planes, planes * 4, 1);
      let identity = x;
      if (M === 0 && (stride > 1 || inplanes !== planes * 4)) {
        const pooled = stride > 1 ? avg(x, stride) : x;
        identity = convBn(g, sd, `${p}.downsample.0`, `${p}.downsample.1`, pooled, inplanes, planes * 4, 1);
      } else if (sd.has(`${p}.downsample.0.weight`)) {
        throw sd.error(`unexpected tensor "${p}.downsample.0.weight" (this block keeps its width and stride)`);
      }
      x = g.op("Relu", [g.op("Add", [h, identity])]);
      inplanes = planes * 4;
    }
  }
  if (inplanes !== embed) throw sd.error(`the last stage has ${inplanes} channels, the attention pool ${embed}`);
  // Attention pooling: [N, C, S, S] -> [N, S², C], the mean token first, plus the positional embedding.
  const a = `${v}.attnpool`;
  const seq = g.op("Transpose", [g.op("Reshape", [x, g.ints("shape_nc_hw", [0, embed, -1])])], { perm: [0, 2, 1] });
  const mean = g.op("ReduceMean", [seq], { axes: [1], keepdims: 1 }); // opset 17: axes is an attribute
  const posE = sd.take(`${a}.positional_embedding`, [tokens + 1, embed]);
  const t = g.op("Add", [
    g.op("Concat", [mean, seq], { axis: 1 }),
    g.init(`${a}.positional_embedding`, posE.shape, posE.data),
  ]);
  const first = g.op("Slice", [t, g.ints("zero", [0]), g.ints("one", [1]), g.ints("axis1", [1])]);
  const hd = embed / heads;
  const q = g.op("Mul", [
    linear(g, sd, `${a}.q_proj`, first, embed, embed),
    g.init("q_scale", [1], new Float32Array([1 / Math.sqrt(hd)])),
  ]);
  const k = linear(g, sd, `${a}.k_proj`, t, embed, embed);
  const vv = linear(g, sd, `${a}.v_proj`, t, embed, embed);
  const split = g.ints("shape_heads", [0, 0, heads, hd]);
  const qh = g.op("Transpose", [g.op("Reshape", [q, split])], { perm: [0, 2, 1, 3] }); // [N, H, 1, d]
  const kh = g.op("Transpose", [g.op("Reshape", [k, split])], { perm: [0, 2, 3, 1] }); // [N, H, d, T]
  const vh = g.op("Transpose", [g.op("Reshape", [vv, split])], { perm: [0, 2, 1, 3] }); // [N, H, T, d]
  const att = g.op("Softmax", [g.op("MatMul", [qh, kh])], { axis: 3 });
  const o = g.op("Transpose", [g.op("MatMul", [att, vh])], { perm: [0, 2, 1, 3] }); // [N, 1, H, d]
  const flat = g.op("Reshape", [o, g.ints("shape_n_c", [0, embed])]);
  const cw = sd.take(`${a}.c_proj.weight`, [outDim, embed]);
  const cb = sd.take(`${a}.c_proj.bias`, [outDim]);
  const proj = g.op("MatMul", [
    flat,
    g.init(`${a}.c_proj.weight_t`, [embed, outDim], transpose2d(cw.data, outDim, embed)),
  ]);
  g.op("Add", [proj, g.init(`${a}.c_proj.bias`, [outDim], cb.data)], {}, "embedding");
  g.output("embedding", "float32", ["batch", outDim]);
  return { model: g.toBytes(17, metadata), layers, width, heads, imageSize, outDim };
}

function buildTextual(sd: StateDict, cfg: ClipConfig, metadata: Record<string, string>) {
  const g = new OnnxGraph("clip_text_transformer");
  const [vocab, width] = sd.shapeOf("token_embedding.weight");
  const [context] = sd.shapeOf("positional_embedding");
  if (!vocab || !width || !context) throw sd.error(`tensor "token_embedding.weight" has an empty shape`);
  const heads = cfg.textHeads ?? width / 64;
  if (!Number.isInteger(heads) || width % heads !== 0) {
    throw sd.error(`text width ${width} is not divisible into ${heads} heads`);
  }
  const hd = width / heads;
  const blocks = countBlocks(sd, "transformer.resblocks", "ln_1.weight");
  if (blocks === 0) throw sd.error(`tensor "transformer.resblocks.0.ln_1.weight" is missing`);
  const embedDim = sd.shapeOf("text_projection")[1]!;
  g.input("text", "int32", ["batch", context]);
  const tok = sd.take("token_embedding.weight", [vocab, width]);
  const pos = sd.take("positional_embedding", [context, width]);
  let x = g.op("Gather", [g.init("token_embedding.weight", tok.shape, tok.data), "text"], { axis: 0 });
  x = g.op("Add", [x, g.init("positional_embedding", pos.shape, pos.data)]);
  const mask = new Float32Array(context * context);
  for (let i = 0; i < context; i++) for (let j = i + 1; j < context; j++) mask[i * context + j] = -Infinity;
  const MASK = g.init("attn_mask", [context, context], mask);
  const scale = g.init("q_scale", [1], new Float32Array([1 / Math.sqrt(hd)]));
  const split = g.ints("shape_heads", [0, 0, heads, hd]);
  const merge = g.ints("shape_merge", [0, 0, width]);
  const ln = (t: string, p: string) => {
    const w = sd.take(`${p}.weight`, [width]);
    const b = sd.take(`${p}.bias`, [width]);
    return g.op(
      "LayerNormalization",
      [t, g.init(`${p}.weight`, [width], w.data), g.init(`${p}.bias`, [width], b.data)],
      {
        axis: 2,
        epsilon: { f: 1e-5 },
      },
    );
  };
  const mlpWidth = blocks ? sd.shapeOf("transformer.resblocks.0.mlp.c_fc.weight")[0]! : 4 * width;
  // The activation's constants are initializers shared by every block.
  const scalar = (name: string, v: number) => g.init(name, [1], new Float32Array([v]));
  let gelu: (t: string) => string;
  if (cfg.quickGelu) {
    const k = scalar("quick_gelu_k", 1.702);
    gelu = (t) => g.op("Mul", [t, g.op("Sigmoid", [g.op("Mul", [t, k])])]);
  } else {
    const [half, rsqrt2, one] = [scalar("half", 0.5), scalar("rsqrt2", Math.SQRT1_2), scalar("one_f", 1)];
    gelu = (t) => g.op("Mul", [g.op("Mul", [t, half]), g.op("Add", [g.op("Erf", [g.op("Mul", [t, rsqrt2])]), one])]);
  }
  for (let i = 0; i < blocks; i++) {
    const p = `transformer.resblocks.${i}`;
    const h = ln(x, `${p}.ln_1`);
    const inW = sd.take(`${p}.attn.in_proj_weight`, [3 * width, width]).data;
    const inB = sd.take(`${p}.attn.in_proj_bias`, [3 * width]).data;
    const proj = (part: number, name: string) => {
      const w = transpose2d(inW.subarray(part * width * width, (part + 1) * width * width), width, width);
      const b = inB.slice(part * width, (part + 1) * width);
      return g.op("Add", [
        g.op("MatMul", [h, g.init(`${p}.attn.${name}_weight_t`, [width, width], w)]),
        g.init(`${p}.attn.${name}_bias`, [width], b),
      ]);
    };
    const q = g.op("Mul", [proj(0, "q"), scale]);
    const qh = g.op("Transpose", [g.op("Reshape", [q, split])], { perm: [0, 2, 1, 3] });
    const kh = g.op("Transpose", [g.op("Reshape", [proj(1, "k"), split])], { perm: [0, 2, 3, 1] });
    const vh = g.op("Transpose", [g.op("Reshape", [proj(2, "v"), split])], { perm: [0, 2, 1, 3] });
    const att = g.op("Softmax", [g.op("Add", [g.op("MatMul", [qh, kh]), MASK])], { axis: 3 });
    const o = g.op("Reshape", [g.op("Transpose", [g.op("MatMul", [att, vh])], { perm: [0, 2, 1, 3] }), merge]);
    x = g.op("Add", [x, linear(g, sd, `${p}.attn.out_proj`, o, width, width)]);
    const f = gelu(linear(g, sd, `${p}.mlp.c_fc`, ln(x, `${p}.ln_2`), width, mlpWidth));
    x = g.op("Add", [x, linear(g, sd, `${p}.mlp.c_proj`, f, mlpWidth, width)]);
  }
  // Pool at the end-of-text token: the first position of the largest id, per row. LayerNorm is per token, so
  // pooling before ln_final gives the same result with 1/context of the work.
  const eot = g.op("ArgMax", [g.op("Cast", ["text"], { to: 6 })], { axis: 1, keepdims: 1, select_last_index: 0 });
  const pooled = g.op("GatherND", [x, eot], { batch_dims: 1 }); // [N, width]
  const lnw = sd.take("ln_final.weight", [width]);
  const lnb = sd.take("ln_final.bias", [width]);
  const normed = g.op("LayerNormalization", [
    pooled,
    g.init("ln_final.weight", [width], lnw.data),
    g.init("ln_final.bias", [width], lnb.data),
  ], {
    axis: 1,
    epsilon: { f: 1e-5 },
  });
  const tp = sd.take("text_projection", [width, embedDim]);
  g.op("MatMul", [normed, g.init("text_projection", tp.shape, tp.data)], {}, "embedding");
  g.output("embedding", "float32", ["batch", embedDim]);
  return { model: g.toBytes(17, metadata), width, heads, blocks, context, vocab, embedDim };
}

/**
 * Builds both towers.
 *
 * @param st The state dict (`open_clip_model.safetensors`).
 * @param cfg From {@linkcode parseClipConfig}.
 * @param metadata Provenance written into both models.
 * @returns The graphs and the architecture they encode.
 */
export function buildClipRn(st: Safetensors, cfg: ClipConfig, metadata: Record<string, string> = {}): BuiltClip {
  const sd = new StateDict(st, IGNORABLE);
  const vis = buildVisual(sd, cfg, metadata);
  const txt = buildTextual(sd, cfg, metadata);
  if (vis.outDim !== txt.embedDim) {
    throw sd.error(`the image tower embeds into ${vis.outDim} dimensions, the text tower into ${txt.embedDim}`);
  }
  if (cfg.embedDim !== undefined && cfg.embedDim !== vis.outDim) {
    throw sd.error(`open_clip_config.json says embed_dim ${cfg.embedDim}, the weights have ${vis.outDim}`);
  }
  let logitScale: number | null = null;
  if (sd.has("logit_scale")) logitScale = Math.exp(sd.take("logit_scale", []).data[0]!);
  sd.finish("an OpenAI CLIP with a modified-ResNet image tower");
  return {
    visual: vis.model,
    textual: txt.model,
    arch: {
      layers: vis.layers,
      visionWidth: vis.width,
      visionHeads: vis.heads,
      imageSize: vis.imageSize,
      embedDim: vis.outDim,
      textWidth: txt.width,
      textHeads: txt.heads,
      textLayers: txt.blocks,
      contextLength: txt.context,
      vocabSize: txt.vocab,
      activation: cfg.quickGelu ? "quick_gelu" : "gelu",
      logitScale,
    },
  };
}
