/**
 * Full-size models with random weights, built in TypeScript through the canonical builders: torchvision's
 * ResNet-50 and OpenAI's CLIP RN50 (both towers), with the published tensor names and shapes. Weights are
 * uniform in ±sqrt(3 / fan_in) (BatchNorm near identity), so activations keep their scale through 50 layers.
 */
import type { SafeTensor, Safetensors } from "../lib/weights/safetensors.ts";
import { buildTorchvisionResnet } from "../lib/models/arch/resnet_tv.ts";
import { buildClipRn } from "../lib/models/arch/clip_rn.ts";
import { rng } from "./_helpers.ts";

class RandomDict {
  readonly tensors = new Map<string, SafeTensor>();
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  put(name: string, shape: number[], fill: (r: () => number) => number): void {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = fill(this.r);
    this.tensors.set(name, { name, dtype: "F32", shape, bytes: new Uint8Array(data.buffer) });
  }
  weight(name: string, shape: number[], fanIn = shape.slice(1).reduce((a, b) => a * b, 1)): void {
    const a = Math.sqrt(3 / fanIn);
    this.put(name, shape, (r) => (r() * 2 - 1) * a);
  }
  small(name: string, shape: number[], scale = 0.02): void {
    this.put(name, shape, (r) => (r() * 2 - 1) * scale);
  }
  bn(prefix: string, c: number): void {
    this.put(`${prefix}.weight`, [c], (r) => 0.9 + 0.2 * r());
    this.small(`${prefix}.bias`, [c], 0.05);
    this.small(`${prefix}.running_mean`, [c], 0.05);
    this.put(`${prefix}.running_var`, [c], (r) => 0.9 + 0.2 * r());
  }
  linear(prefix: string, out: number, inF: number): void {
    this.weight(`${prefix}.weight`, [out, inF]);
    this.small(`${prefix}.bias`, [out]);
  }
  done(path: string): Safetensors {
    return { path, tensors: this.tensors, metadata: {} };
  }
}

/** Adds the four Bottleneck stages ([3, 4, 6, 3]) under `prefix`, and returns the output channels. */
function stages(d: RandomDict, prefix: string, inplanes: number, base: number): number {
  [3, 4, 6, 3].forEach((blocks, i) => {
    const planes = base * 2 ** i;
    for (let m = 0; m < blocks; m++) {
      const p = `${prefix}layer${i + 1}.${m}`;
      d.weight(`${p}.conv1.weight`, [planes, inplanes, 1, 1]);
      d.bn(`${p}.bn1`, planes);
      d.weight(`${p}.conv2.weight`, [planes, planes, 3, 3]);
      d.bn(`${p}.bn2`, planes);
      d.weight(`${p}.conv3.weight`, [planes * 4, planes, 1, 1]);
      d.bn(`${p}.bn3`, planes * 4);
      if (m === 0) {
        d.weight(`${p}.downsample.0.weight`, [planes * 4, inplanes, 1, 1]);
        d.bn(`${p}.downsample.1`, planes * 4);
      }
      inplanes = planes * 4;
    }
  });
  return inplanes;
}

/** ResNet-50 (torchvision names), random weights, as an ONNX model. */
export function fullResnet50(seed = 50): Uint8Array {
  const d = new RandomDict(seed);
  d.weight("conv1.weight", [64, 3, 7, 7]);
  d.bn("bn1", 64);
  const c = stages(d, "", 64, 64);
  d.linear("fc", 1000, c);
  return buildTorchvisionResnet(d.done("random-resnet50.safetensors")).model;
}

/** CLIP RN50 (OpenAI names), random weights: both towers as ONNX models. */
export function fullClipRn50(seed = 51): { visual: Uint8Array; textual: Uint8Array } {
  const d = new RandomDict(seed);
  d.weight("visual.conv1.weight", [32, 3, 3, 3]);
  d.bn("visual.bn1", 32);
  d.weight("visual.conv2.weight", [32, 32, 3, 3]);
  d.bn("visual.bn2", 32);
  d.weight("visual.conv3.weight", [64, 32, 3, 3]);
  d.bn("visual.bn3", 64);
  const embed = stages(d, "visual.", 64, 64); // 2048
  d.small("visual.attnpool.positional_embedding", [50, embed], 1 / Math.sqrt(embed));
  for (const p of ["q_proj", "k_proj", "v_proj"]) d.linear(`visual.attnpool.${p}`, embed, embed);
  d.linear("visual.attnpool.c_proj", 1024, embed);
  const width = 512;
  d.small("token_embedding.weight", [49408, width]);
  d.small("positional_embedding", [77, width], 0.01);
  for (let i = 0; i < 12; i++) {
    const p = `transformer.resblocks.${i}`;
    for (const ln of ["ln_1", "ln_2"]) {
      d.put(`${p}.${ln}.weight`, [width], (r) => 0.9 + 0.2 * r());
      d.small(`${p}.${ln}.bias`, [width]);
    }
    d.weight(`${p}.attn.in_proj_weight`, [3 * width, width]);
    d.small(`${p}.attn.in_proj_bias`, [3 * width]);
    d.linear(`${p}.attn.out_proj`, width, width);
    d.linear(`${p}.mlp.c_fc`, 4 * width, width);
    d.linear(`${p}.mlp.c_proj`, width, 4 * width);
  }
  d.put("ln_final.weight", [width], (r) => 0.9 + 0.2 * r());
  d.small("ln_final.bias", [width]);
  d.weight("text_projection", [width, 1024], width);
  d.put("logit_scale", [], () => Math.log(100));
  const built = buildClipRn(d.done("random-clip-rn50.safetensors"), { quickGelu: true });
  return { visual: built.visual, textual: built.textual };
}
