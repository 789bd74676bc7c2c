#!/usr/bin/python3
"""Dev-only, for tools/device_bench.sh: PyTorch eager throughput of the same random-weight ResNet-50 and CLIP
RN50 image tower, on the same GPU in the same run, as the baseline the WebGPU figures are divided by.

    python3 tools/torch_baseline.py OUT.json
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_fullsize import ClipVisual, UnitInputResnet  # noqa: E402


def rate(model, batch, dtype, iters=20):
    x = torch.rand(batch, 3, 224, 224, device="cuda", dtype=dtype)
    with torch.no_grad():
        for _ in range(3):
            model(x)
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(iters):
            model(x)
        torch.cuda.synchronize()
    secs = (time.perf_counter() - t) / iters
    return {"batch": batch, "dtype": str(dtype).replace("torch.", ""), "ms_per_batch": secs * 1000,
            "images_per_s": batch / secs}


def main():
    torch.manual_seed(0)
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": []}
    for name, make in (("resnet50", UnitInputResnet), ("clip-rn50-visual", ClipVisual)):
        for dtype in (torch.float32, torch.float16):
            m = make().eval().cuda().to(dtype)
            for b in (1, 32, 256):
                r = rate(m, b, dtype)
                r["model"] = name
                out["rows"].append(r)
                print(f"torch eager {name} {r['dtype']} b{b}: {r['images_per_s']:.0f} images/s, "
                      f"{r['ms_per_batch']:.2f} ms per batch", flush=True)
            del m
            torch.cuda.empty_cache()
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
