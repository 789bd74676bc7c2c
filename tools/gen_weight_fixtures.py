#!/usr/bin/python3
"""Dev-only: the canonical-weights fixtures, small-width models with the exact tensor names of the published
safetensors, and PyTorch's outputs for them. Run with Debian's interpreter (tools/gen_fixtures.py runs it too):

    /usr/bin/python3 tools/gen_weight_fixtures.py

Writes models/fixtures/weights/:
  resnet-tv-tiny/model.safetensors, config.json   torchvision ResNet names (layers 2,1,1,1, base width 8),
                                                   in the layout of timm/resnet50.tv_in1k
  clip-rn-tiny/open_clip_model.safetensors, open_clip_config.json, tokenizer.json
                                                   OpenAI CLIP names (embed 1024 as RN50; modified ResNet layers 2,1,1,1, width 8,
                                                   8 pooling heads; text width 32, 2 heads, 2 blocks, QuickGELU),
                                                   in the layout of timm/resnet50_clip.openai
  refs.json                                        PyTorch outputs: ResNet logits and CLIP image embeddings on a
                                                   synthetic batch of 3, text embeddings of 4 prompts (and what
                                                   exact GELU would give instead), and on the 10 demo photos the
                                                   ResNet logits and CLIP zero-shot probabilities
The synthetic input is integer arithmetic, reproduced exactly by the tests: pixel i of image b is
((i * 2654435761 + b * 97) % 1000) / 500 - 1.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_reference import OpenAIClipRN, QuickGELU, as_np, count, randomise, tv_resnet, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "models", "fixtures", "weights")
PHOTOS = os.path.join(ROOT, "data", "samples", "photo")
TOKENIZER = os.path.join(ROOT, "models", "clip-tokenizer", "tokenizer.json")
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
PROMPTS = ["a photo of a dog.", "a sketch of a bald eagle.", "a photo of a goldfish.", "an origami tiger."]

CLIP_TINY = dict(embed_dim=1024, layers=(2, 1, 1, 1), vision_width=8, vision_heads=8, image_size=224,
                 context_length=77, vocab_size=49408, text_width=32, text_heads=2, text_layers=2)


def synthetic(batch):
    i = np.arange(3 * 224 * 224, dtype=np.int64)
    x = np.stack([((i * 2654435761 + b * 97) % 1000) / 500.0 - 1.0 for b in range(batch)])
    return torch.tensor(x.reshape(batch, 3, 224, 224), dtype=torch.float32)


def main():
    torch.set_grad_enabled(False)
    from gen_fixtures import ClipBpe, BPE  # noqa: E402  (the independent BPE port)
    tok = ClipBpe(BPE)
    g = torch.Generator().manual_seed(14)
    torch.manual_seed(14)
    resnet = tv_resnet(layers=(2, 1, 1, 1), base=8).eval()
    randomise(resnet, g)
    clip = OpenAIClipRN(**CLIP_TINY).eval()
    randomise(clip.visual, g)
    with torch.no_grad():  # larger MLP pre-activations, so QuickGELU and exact GELU differ measurably
        clip.token_embedding.weight.mul_(0.02)  # OpenAI's init scale: the residual stream stays small
        for blk in clip.transformer.resblocks:
            blk.mlp.c_fc.weight.mul_(3.0)
            blk.mlp.c_proj.weight.mul_(3.0)

    x = synthetic(3)
    ids = torch.tensor([tok.tokenize(p) for p in PROMPTS], dtype=torch.int32)

    photos = sorted(f for f in os.listdir(PHOTOS) if f.endswith(".jpg"))
    classes = json.load(open(os.path.join(ROOT, "data", "imagenet", "imagenet_class_index.json")))
    names = json.load(open(os.path.join(ROOT, "data", "clip", "clip_classnames.json")))
    wnid_to_index = {v[0]: int(k) for k, v in classes.items()}
    demo = [wnid_to_index[f.split("_")[0]] for f in photos]
    labels = [names[i] for i in demo]
    pil = [Image.open(os.path.join(PHOTOS, f)).convert("RGB") for f in photos]
    rx = torch.stack([T.Compose([T.Resize(256, interpolation=T.InterpolationMode.BILINEAR), T.CenterCrop(224),
                                 T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])(im) for im in pil])
    cx = torch.stack([T.Compose([T.Resize(224, interpolation=T.InterpolationMode.BICUBIC), T.CenterCrop(224),
                                 T.ToTensor(), T.Normalize(CLIP_MEAN, CLIP_STD)])(im) for im in pil])
    lids = torch.tensor([tok.tokenize(f"a photo of a {n}.") for n in labels], dtype=torch.int32)
    # Calibrate the image tower's BatchNorm statistics on the photos, as training would have: activations stay
    # normalised, so the embeddings depend on the image rather than on the biases alone.
    for m in clip.visual.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    clip.visual.train()
    clip.visual(torch.cat([cx, synthetic(2)]))
    clip.visual.eval()
    # Centre both towers' embeddings over the demo set, so that different photos get different predictions.
    with torch.no_grad():
        pinv = torch.linalg.pinv(clip.text_projection)
        clip.visual.attnpool.c_proj.bias.sub_(clip.encode_image(cx).mean(0))
        clip.ln_final.bias.sub_(clip.encode_text(lids).mean(0) @ pinv)
    text = clip.encode_text(ids)
    img = clip.encode_image(cx)
    txt = clip.encode_text(lids)
    img = img / img.norm(dim=-1, keepdim=True)
    txt = txt / txt.norm(dim=-1, keepdim=True)
    probs = (100.0 * img @ txt.T).softmax(dim=-1)
    for blk in clip.transformer.resblocks:
        blk.mlp.gelu = torch.nn.GELU()
    text_gelu = clip.encode_text(ids)
    for blk in clip.transformer.resblocks:
        blk.mlp.gelu = QuickGELU()
    rel = float((text - text_gelu).norm() / text.norm())
    print(f"text tower: exact GELU differs from QuickGELU by {rel:.4f} (relative L2)")
    if rel < 0.001:  # 10x the tests' tolerance (1e-4)
        sys.exit("QuickGELU and GELU are too close on this fixture to tell apart")

    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    rdir = os.path.join(OUT, "resnet-tv-tiny")
    cdir = os.path.join(OUT, "clip-rn-tiny")
    os.makedirs(rdir)
    os.makedirs(cdir)
    write_safetensors(os.path.join(rdir, "model.safetensors"), resnet.state_dict(), {"format": "pt"})
    with open(os.path.join(rdir, "config.json"), "w") as fh:
        json.dump({"architecture": "resnet50", "num_classes": 1000, "num_features": 256,
                   "pretrained_cfg": {"tag": "tv_in1k", "input_size": [3, 224, 224], "interpolation": "bilinear",
                                      "crop_pct": 0.875, "mean": IMAGENET_MEAN, "std": IMAGENET_STD}}, fh, indent=2)
    write_safetensors(os.path.join(cdir, "open_clip_model.safetensors"), clip.state_dict())
    with open(os.path.join(cdir, "open_clip_config.json"), "w") as fh:
        json.dump({"model_cfg": {"embed_dim": 1024, "quick_gelu": True,
                                 "vision_cfg": {"image_size": 224, "layers": [2, 1, 1, 1], "width": 8,
                                                "head_width": 32, "patch_size": None},
                                 "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2,
                                              "layers": 2}},
                   "preprocess_cfg": {"mean": CLIP_MEAN, "std": CLIP_STD, "interpolation": "bicubic",
                                      "resize_mode": "shortest"}}, fh, indent=2)
    shutil.copy(TOKENIZER, os.path.join(cdir, "tokenizer.json"))

    def r(t):
        return np.round(as_np(t), 8).tolist()

    sd_r, sd_c = resnet.state_dict(), clip.state_dict()
    refs = {
        "generator": "tools/gen_weight_fixtures.py",
        "torch": torch.__version__,
        "synthetic": "pixel i of image b = ((i * 2654435761 + b * 97) % 1000) / 500 - 1, [3,3,224,224]",
        "resnet": {"logits": r(resnet(x)), "photo_logits": r(resnet(rx)),
                   "params": count(resnet), "tensors": len(sd_r)},
        "clip": {
            "image_embeddings": r(clip.encode_image(x)),
            "prompts": PROMPTS,
            "text_ids": ids.tolist(),
            "text_embeddings": r(text),
            "text_embeddings_exact_gelu": r(text_gelu),
            "params_visual": count(clip.visual),
            "params_textual": count(clip) - count(clip.visual) - 1,
            "tensors": len(sd_c),
        },
        "photos": [f"data/samples/photo/{f}" for f in photos],
        "labels": labels,
        "zeroshot_probs": r(probs),
    }
    with open(os.path.join(OUT, "refs.json"), "w") as fh:
        json.dump(refs, fh)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
