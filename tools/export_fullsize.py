#!/usr/bin/python3
"""Dev-only: export full-size, random-weight models in the real layouts, for end-to-end runs and benchmarks.

    /usr/bin/python3 tools/export_fullsize.py [OUT_DIR]      (default .cache/fullsize, git-ignored)

Also writes OUT_DIR/dynamic/{resnet50,clip-rn50-visual}.onnx with a dynamic batch axis, for the benchmarks.

Writes, without any pretrained weights:
  resnet50.onnx             torchvision ResNet-50 (weights=None) in the layout of qualcomm/ResNet50: input
                            `image_tensor` [1,3,224,224] RGB in [0,1], ImageNet mean/std applied inside,
                            output `class_logits` [1,1000]
  clip-rn50/visual/model.onnx    CLIP RN50 image tower, written from the paper (modified ResNet-50 with a 3-conv
                            stem, anti-aliased strided convs and attention pooling): `image` [1,3,224,224] ->
                            `embedding` [1,1024], L2-normalised
  clip-rn50/textual/model.onnx   CLIP text transformer (12 layers, width 512, 8 heads, causal, pooled at EOT):
                            `text` int32 [1,77] -> `embedding` [1,1024], L2-normalised
  clip-rn50/textual/tokenizer.json (+ config)  copied from models/fixtures/clip-tiny

  weights/clip-rn50/        open_clip_model.safetensors with OpenAI's tensor names (tools/clip_reference.py),
                            open_clip_config.json (quick_gelu true), tokenizer.json: the layout of
                            timm/resnet50_clip.openai
  weights/resnet50/model.safetensors  torchvision's resnet50() state dict: the layout of timm/resnet50.tv_in1k

`--weights-only` writes only weights/. Parameter counts are checked against the published ones: 38,316,896 (CLIP visual), 63,690,240 (CLIP text, plus
the logit scale), 25,557,032 (ResNet-50). Batch is fixed at 1, like the immich exports.
"""
import inspect
import json
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
OUT = ARGS[0] if ARGS else os.path.join(ROOT, ".cache", "fullsize")


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.avgpool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = None
        if stride > 1 or inplanes != planes * 4:
            self.downsample = nn.Sequential(nn.AvgPool2d(stride), nn.Conv2d(inplanes, planes * 4, 1, bias=False),
                                            nn.BatchNorm2d(planes * 4))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(self.avgpool(out)))
        identity = self.downsample(x) if self.downsample is not None else x
        return F.relu(out + identity)


class AttentionPool2d(nn.Module):
    def __init__(self, spacial_dim, embed_dim, num_heads, output_dim):
        super().__init__()
        self.positional_embedding = nn.Parameter(torch.randn(spacial_dim ** 2 + 1, embed_dim) / embed_dim ** 0.5)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.c_proj = nn.Linear(embed_dim, output_dim)
        self.num_heads = num_heads

    def forward(self, x):
        b, c, h, w = x.shape
        x = x.flatten(2).permute(0, 2, 1)  # B, HW, C
        x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1) + self.positional_embedding[None]
        hd = c // self.num_heads
        q = self.q_proj(x[:, :1]).reshape(b, 1, self.num_heads, hd).transpose(1, 2)
        k = self.k_proj(x).reshape(b, -1, self.num_heads, hd).transpose(1, 2)
        v = self.v_proj(x).reshape(b, -1, self.num_heads, hd).transpose(1, 2)
        att = (q @ k.transpose(-1, -2) / hd ** 0.5).softmax(dim=-1)
        out = (att @ v).transpose(1, 2).reshape(b, c)
        return self.c_proj(out)


class ClipVisual(nn.Module):
    def __init__(self, layers=(3, 4, 6, 3), output_dim=1024, heads=32, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width // 2)
        self.conv2 = nn.Conv2d(width // 2, width // 2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width // 2)
        self.conv3 = nn.Conv2d(width // 2, width, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(width)
        self.avgpool = nn.AvgPool2d(2)
        self._inplanes = width
        self.layer1 = self._make(width, layers[0])
        self.layer2 = self._make(width * 2, layers[1], 2)
        self.layer3 = self._make(width * 4, layers[2], 2)
        self.layer4 = self._make(width * 8, layers[3], 2)
        self.attnpool = AttentionPool2d(224 // 32, width * 32, heads, output_dim)

    def _make(self, planes, blocks, stride=1):
        layers = [Bottleneck(self._inplanes, planes, stride)]
        self._inplanes = planes * 4
        layers += [Bottleneck(self._inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, image):
        x = F.relu(self.bn1(self.conv1(image)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.avgpool(F.relu(self.bn3(self.conv3(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.attnpool(x)
        return x / x.norm(dim=-1, keepdim=True)


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.in_proj = nn.Linear(width, 3 * width)
        self.out_proj = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.c_fc = nn.Linear(width, 4 * width)
        self.c_proj = nn.Linear(4 * width, width)
        self.heads = heads

    def forward(self, x, mask):
        b, n, w = x.shape
        hd = w // self.heads
        q, k, v = self.in_proj(self.ln_1(x)).split(w, dim=-1)
        q, k, v = (t.reshape(b, n, self.heads, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2) / hd ** 0.5 + mask).softmax(dim=-1)
        x = x + self.out_proj((att @ v).transpose(1, 2).reshape(b, n, w))
        h = self.c_fc(self.ln_2(x))
        return x + self.c_proj(h * torch.sigmoid(1.702 * h))  # QuickGELU, as in CLIP


class ClipText(nn.Module):
    def __init__(self, vocab=49408, width=512, layers=12, heads=8, context=77, embed=1024):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.randn(context, width) * 0.01)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.ln_final = nn.LayerNorm(width)
        self.text_projection = nn.Parameter(torch.randn(width, embed) * width ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(np.log(1 / 0.07), dtype=torch.float32))
        self.register_buffer("mask", torch.full((context, context), float("-inf")).triu_(1), persistent=False)

    def forward(self, text):
        x = self.token_embedding(text.long()) + self.positional_embedding
        for blk in self.blocks:
            x = blk(x, self.mask)
        x = self.ln_final(x)
        x = x[torch.arange(x.shape[0]), text.argmax(dim=-1)] @ self.text_projection
        return x / x.norm(dim=-1, keepdim=True)


class UnitInputResnet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torchvision.models.resnet50(weights=None)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def forward(self, image_tensor):
        return self.net((image_tensor - self.mean) / self.std)


def count(m):
    return sum(p.numel() for p in m.parameters())


def export_weights():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from clip_reference import OpenAIClipRN, randomise, write_safetensors
    g = torch.Generator().manual_seed(0)
    clip = OpenAIClipRN().eval()
    randomise(clip.visual, g)
    resnet = torchvision.models.resnet50(weights=None).eval()
    randomise(resnet, g)
    counts = {"CLIP visual": (count(clip.visual), 38316896),
              "CLIP text": (count(clip) - count(clip.visual) - 1, 63690240), "ResNet-50": (count(resnet), 25557032)}
    for name, (got, want) in counts.items():
        print(f"{name} (state dict): {got:,} parameters (published {want:,})")
        if got != want:
            sys.exit(f"{name} parameter count differs from the published one")
    cdir = os.path.join(OUT, "weights", "clip-rn50")
    rdir = os.path.join(OUT, "weights", "resnet50")
    os.makedirs(cdir, exist_ok=True)
    os.makedirs(rdir, exist_ok=True)
    write_safetensors(os.path.join(cdir, "open_clip_model.safetensors"), clip.state_dict())
    with open(os.path.join(cdir, "open_clip_config.json"), "w") as fh:
        json.dump({"model_cfg": {"embed_dim": 1024, "quick_gelu": True,
                                 "vision_cfg": {"image_size": 224, "layers": [3, 4, 6, 3], "width": 64,
                                                "patch_size": None},
                                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8,
                                              "layers": 12}}}, fh, indent=2)
    shutil.copy(os.path.join(ROOT, "models", "clip-tokenizer", "tokenizer.json"), os.path.join(cdir, "tokenizer.json"))
    write_safetensors(os.path.join(rdir, "model.safetensors"), resnet.state_dict(), {"format": "pt"})
    print("wrote", os.path.join(OUT, "weights"))


def main():
    torch.manual_seed(0)
    torch.set_grad_enabled(False)
    export_weights()
    if "--weights-only" in sys.argv:
        return
    visual, text, resnet = ClipVisual().eval(), ClipText().eval(), UnitInputResnet().eval()
    counts = {"CLIP visual": (count(visual), 38316896), "CLIP text": (count(text) - 1, 63690240),
              "ResNet-50": (count(resnet.net), 25557032)}
    for name, (got, want) in counts.items():
        print(f"{name}: {got:,} parameters (published {want:,})")
        if got != want:
            sys.exit(f"{name} parameter count differs from the published one")
    os.makedirs(os.path.join(OUT, "clip-rn50", "visual"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "clip-rn50", "textual"), exist_ok=True)
    img = torch.rand(1, 3, 224, 224)
    ids = torch.zeros(1, 77, dtype=torch.int32)
    ids[0, :8] = torch.tensor([49406, 320, 1125, 539, 320, 1929, 269, 49407])
    kw = dict(opset_version=17, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False  # PyTorch >= 2.9 defaults to the dynamo exporter; we want the TorchScript graphs
    torch.onnx.export(resnet, img, os.path.join(OUT, "resnet50.onnx"), input_names=["image_tensor"],
                      output_names=["class_logits"], **kw)
    torch.onnx.export(visual, img, os.path.join(OUT, "clip-rn50", "visual", "model.onnx"), input_names=["image"],
                      output_names=["embedding"], **kw)
    torch.onnx.export(text, ids, os.path.join(OUT, "clip-rn50", "textual", "model.onnx"), input_names=["text"],
                      output_names=["embedding"], **kw)
    # Dynamic-batch copies of the image towers, for throughput at batch > 1 (the published layouts fix batch 1).
    os.makedirs(os.path.join(OUT, "dynamic"), exist_ok=True)
    dyn = {"dynamic_axes": {"image_tensor": {0: "batch"}, "class_logits": {0: "batch"}}}
    torch.onnx.export(resnet, img, os.path.join(OUT, "dynamic", "resnet50.onnx"), input_names=["image_tensor"],
                      output_names=["class_logits"], **kw, **dyn)
    dyn = {"dynamic_axes": {"image": {0: "batch"}, "embedding": {0: "batch"}}}
    torch.onnx.export(visual, img, os.path.join(OUT, "dynamic", "clip-rn50-visual.onnx"), input_names=["image"],
                      output_names=["embedding"], **kw, **dyn)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(ROOT, "models", "fixtures", "clip-tiny", "textual", f),
                    os.path.join(OUT, "clip-rn50", "textual", f))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
