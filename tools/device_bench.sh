#!/usr/bin/env bash
# The GPU measurement run (issues #10 and #18), on the device machine, from the files tools/prepare_device.sh packed:
#   device run, carry [".device", ".gl"], command `bash tools/device_bench.sh`, timeout 600.
# Each step has its own time limit and the whole run a deadline (DEADLINE_S, default 560 s), so whatever
# finished comes back in $OUT even when a later step runs out of time. Rehearse here with
#   OUT=/tmp/out SMOKE=1 bash tools/device_bench.sh
# which uses the software adapter, the system Deno and node_modules, and tiny sizes. $OUT ends up with log.txt,
# engine.md, e2e.md and outputs.tar.gz (every step's output), within the device's 8-file limit.
# Issue 18's steps come first (engine vs ORT model-only, tile sweep, end to end per engine, PyTorch, zero-shot head
# per engine); ONLY="fp16 compare preprocess" runs the older part-5 steps.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:?set OUT}
mkdir -p "$OUT"
START=$SECONDS
DEADLINE=${DEADLINE_S:-560}
log() { echo "[$((SECONDS - START))s] $*" | tee -a "$OUT/log.txt"; }
# step NAME LIMIT_S COMMAND...: runs with the smaller of LIMIT_S and the time left, output to $OUT/NAME.txt.
# ONLY="e2e head" runs just those steps (and the setup).
step() {
  local name=$1 limit=$2
  shift 2
  if [ -n "${ONLY:-}" ] && [[ " $ONLY adapter export " != *" $name "* ]]; then return; fi
  local left=$((DEADLINE - (SECONDS - START)))
  ((left < limit)) && limit=$left
  if ((limit < 10)); then
    log "SKIP $name: deadline"
    return
  fi
  log "START $name (limit ${limit}s)"
  local t=$SECONDS
  timeout -k 5 "$limit" "$@" >"$OUT/$name.txt" 2>&1
  log "END $name rc=$? in $((SECONDS - t))s"
}

export XDG_RUNTIME_DIR=/tmp HOME=/tmp/clipcmp-home
mkdir -p "$HOME"
if [ -z "${SMOKE:-}" ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  mkdir -p /tmp/bin
  xz -dc .device/deno.xz >/tmp/bin/deno && chmod +x /tmp/bin/deno
  export PATH=/tmp/bin:$PATH DENO_DIR=/tmp/deno-dir
  tar -xJf .device/node_modules.tar.xz
  FULL=/tmp/fullsize
  BATCHES=${BATCHES:-1,32,256} FP16_BATCHES=1,32 STEPS=3 N=${N:-3} RUNS=20
else
  # The tiny fixtures in the full-size layout.
  FULL=/tmp/clipcmp-smoke
  mkdir -p $FULL/dynamic
  ln -sf "$PWD/models/fixtures/resnet-tiny-dyn/model.onnx" $FULL/dynamic/resnet50.onnx
  ln -sf "$PWD/models/fixtures/clip-tiny-dyn/visual/model.onnx" $FULL/dynamic/clip-rn50-visual.onnx
  ln -sf "$PWD/models/fixtures/resnet-tiny/model.onnx" $FULL/resnet50.onnx
  ln -sfn "$PWD/models/fixtures/clip-tiny" $FULL/clip-rn50
  BATCHES=1,4 FP16_BATCHES=1,4 STEPS=2 N=1 RUNS=5
fi
log "deno $(deno --version | head -1); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/nvidia-smi.txt" 2>&1
adapter='import { requestGpu, describeAdapter } from "./lib/gpu/context.ts";
const g = await requestGpu(); console.log(g ? describeAdapter(g.summary) : "NO ADAPTER"); g?.destroy();'
step adapter 60 deno eval "$adapter"
if grep -q "NO ADAPTER\|fallback" "$OUT/adapter.txt" && [ -z "${SMOKE:-}" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  step adapter 60 deno eval "$adapter"
fi
cat "$OUT/adapter.txt" | tee -a "$OUT/log.txt"

[ -z "${SMOKE:-}" ] && step export 150 python3 tools/export_fullsize.py "$FULL"
# A CLIP folder whose image tower has a dynamic batch, for the part 5 table at batch > 1.
mkdir -p /tmp/clip-dyn/visual
ln -sf "$(readlink -f "$FULL/dynamic/clip-rn50-visual.onnx")" /tmp/clip-dyn/visual/model.onnx
ln -sfn "$(readlink -f "$FULL/clip-rn50/textual")" /tmp/clip-dyn/textual

# Canonical graphs (dynamic batch) from the exported weights: the text tower at batch > 1 needs one.
if [ -z "${SMOKE:-}" ]; then
  step build 60 deno run --allow-read --allow-write=/tmp/built --allow-env tools/build_canonical.ts \
    "$FULL/weights/clip-rn50" "$FULL/weights/resnet50/model.safetensors" /tmp/built
  TEXT="$(head -1 "$OUT/build.txt" 2>/dev/null)/textual/model.onnx"
else
  TEXT="$PWD/models/fixtures/clip-tiny-dyn/textual/model.onnx"
fi
[ -f "$TEXT" ] || TEXT="$FULL/clip-rn50/textual/model.onnx"

bench_env=(env CLIPCMP_BENCH_MODELS="$(readlink -f "$FULL")" CLIPCMP_BENCH_BATCHES=$BATCHES CLIPCMP_BENCH_STEPS=$STEPS
  CLIPCMP_BENCH_N=$N CLIPCMP_BENCH_DTYPES=${DTYPES:-fp32,fp16} CLIPCMP_BENCH_TEXT="$TEXT")
step engine 150 "${bench_env[@]}" CLIPCMP_BENCH_MODELS_RUN=${MODELS_RUN:-resnet,clip,text} \
  deno bench --allow-read --allow-write=out --allow-env bench/engine_bench.ts
cp out/bench/engine.md out/bench/engine.json "$OUT/" 2>/dev/null
step tiles 40 env CLIPCMP_BENCH_TILES=64x64x8,64x64x32,128x32x16,32x128x16,32x32x8 \
  deno bench --allow-read --allow-env bench/gemm_bench.ts
for engine in ort wgsl; do
  step "e2e-$engine" 70 "${bench_env[@]}" CLIPCMP_BENCH_MODELS_RUN=resnet,clip CLIPCMP_BENCH_ENGINE=$engine \
    CLIPCMP_BENCH_BATCHES=${E2E_BATCHES:-256} CLIPCMP_BENCH_DTYPES=fp16 \
    deno bench --allow-read --allow-write=out --allow-env bench/e2e_bench.ts
  cp out/bench/e2e.md "$OUT/e2e-$engine.md" 2>/dev/null
done
[ -z "${SMOKE:-}" ] && step torch 45 python3 tools/torch_baseline.py "$OUT/torch.json"
[ -z "${SMOKE:-}" ] || log "SKIP torch: no CUDA here"
# ORT-web's head took 165 s on the H100 (docs/BENCHMARKS.md): HEAD_ENGINES="ort wgsl" to measure it again.
for engine in ${HEAD_ENGINES:-wgsl}; do
  step "head-$engine" 60 deno task zeroshot --clip "$FULL/clip-rn50" --imagenet --templates clip80 --device webgpu \
    --engine $engine data/samples/photo/n01614925_bald_eagle.jpg
done
# Part 5's steps (issue 10), only when ONLY names them.
[ -n "${ONLY:-}" ] && step fp16 90 deno task fp16 --resnet "$FULL/dynamic/resnet50.onnx" --resnet-input unit --clip /tmp/clip-dyn \
  --batch "$FP16_BATCHES" --runs "$RUNS" --device webgpu --json
[ -n "${ONLY:-}" ] && step compare 60 deno task compare --clip "$FULL/clip-rn50" --resnet "$FULL/resnet50.onnx" --resnet-input unit \
  --device webgpu
[ -n "${ONLY:-}" ] && step preprocess 45 deno bench --allow-read --allow-write=out --allow-env bench/preprocess_bench.ts
log "done"
# The device returns at most 8 files: keep log.txt and the summaries, pack the rest.
(cd "$OUT" && files=$(ls | grep -v -e '^log.txt$' -e '^engine.md$' -e '^e2e-ort.md$' -e '^e2e-wgsl.md$' -e '^outputs.tar.gz$') &&
  [ -n "$files" ] && tar -czf outputs.tar.gz $files && rm -f $files)
