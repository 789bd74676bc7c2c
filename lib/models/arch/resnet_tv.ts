/**
 * torchvision's ResNet-50 (`torchvision.models.resnet50`, Bottleneck V1.5: the stride sits on the 3×3 conv) as
 * an ONNX graph, built from its state dict with torchvision's own tensor names: `conv1.weight`, `bn1.*`,
 * `layer{1..4}.{M}.conv{1,2,3}.weight`, `layer{L}.{M}.bn{1,2,3}.*`, `layer{L}.0.downsample.{0,1}.*`, `fc.*`.
 *
 * Widths and block counts are read from the shapes (so small-width fixtures with the same names build too);
 * strides are torchvision's (1, 2, 2, 2). BatchNorm is folded into each conv. The graph takes ImageNet-normalised
 * `pixel_values` [batch, 3, H, W] and returns `logits` [batch, classes].
 *
 * @module
 */
import { OnnxGraph } from "../../onnx/build.ts";
import type { Safetensors } from "../../weights/safetensors.ts";
import { convBn, countBlocks, StateDict } from "./weights.ts";

/** What was built. */
export interface BuiltResnet {
  /** The ONNX model. */
  model: Uint8Array;
  /** Blocks per stage, e.g. [3, 4, 6, 3]. */
  layers: number[];
  /** Classes. */
  classes: number;
}

/** The graph's input and output names. */
export const RESNET_IO = { input: "pixel_values", output: "logits" } as const;

/**
 * Builds the graph.
 *
 * @param st The torchvision state dict.
 * @param metadata Provenance written into the model's `metadata_props`.
 * @returns The model.
 */
export function buildTorchvisionResnet(st: Safetensors, metadata: Record<string, string> = {}): BuiltResnet {
  const sd = new StateDict(st, [/(^|\.)num_batches_tracked$/]);
  const g = new OnnxGraph("torchvision_resnet");
  const [stem] = sd.shapeOf("conv1.weight");
  if (!stem || sd.shapeOf("conv1.weight").length !== 4) throw sd.error(`tensor "conv1.weight" is not a conv weight`);
  g.input(RESNET_IO.input, "float32", ["batch", 3, 224, 224]);
  let x = convBn(g, sd, "conv1", "bn1", RESNET_IO.input, 3, stem, 7, { stride: 2, pad: 3 });
  x = g.op("Relu", [x]);
  x = g.op("MaxPool", [x], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  let inplanes = stem;
  const layers: number[] = [];
  for (let L = 1; L <= 4; L++) {
    const blocks = countBlocks(sd, `layer${L}`, "conv1.weight");
    if (blocks === 0) throw sd.error(`tensor "layer${L}.0.conv1.weight" is missing`);
    layers.push(blocks);
    const planes = sd.shapeOf(`layer${L}.0.conv1.weight`)[0]!;
    for (let M = 0; M < blocks; M++) {
      const p = `layer${L}.${M}`;
      const stride = M === 0 && L > 1 ? 2 : 1;
      let h = g.op("Relu", [convBn(g, sd, `${p}.conv1`, `${p}.bn1`, x, inplanes, planes, 1)]);
      h = g.op("Relu", [convBn(g, sd, `${p}.conv2`, `${p}.bn2`, h, planes, planes, 3, { stride, pad: 1 })]);
      h = convBn(g, sd, `${p}.conv3`, `${p}.bn3`, h, planes, planes * 4, 1);
      let identity = x;
      if (M === 0 && (stride !== 1 || inplanes !== planes * 4)) {
        identity = convBn(g, sd, `${p}.downsample.0`, `${p}.downsample.1`, x, inplanes, planes * 4, 1, { stride });
      } else if (sd.has(`${p}.downsample.0.weight`)) {
        throw sd.error(`unexpected tensor "${p}.downsample.0.weight" (this block keeps its width and stride)`);
      }
      x = g.op("Relu", [g.op("Add", [h, identity])]);
      inplanes = planes * 4;
    }
  }
  const [classes] = sd.shapeOf("fc.weight");
  const fcW = sd.take("fc.weight", [classes ?? 0, inplanes]);
  const fcB = sd.take("fc.bias", [classes!]);
  x = g.op("Flatten", [g.op("GlobalAveragePool", [x])], { axis: 1 });
  g.op(
    "Gemm",
    [x, g.init("fc.weight", fcW.shape, fcW.data), g.init("fc.bias", fcB.shape, fcB.data)],
    { transB: 1 },
    RESNET_IO.output,
  );
  g.output(RESNET_IO.output, "float32", ["batch", classes!]);
  sd.finish("a torchvision ResNet");
  return { model: g.toBytes(17, metadata), layers, classes: classes! };
}
