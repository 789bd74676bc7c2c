#!/usr/bin/env bash
# The GPU measurement run (issue #10), on the device machine, from the files tools/prepare_device.sh packed:
#   device run, carry [".device", ".gl"], command `bash tools/device_bench.sh`, timeout 600.
# Each step has its own time limit and the whole run a deadline (DEADLINE_S, default 560 s), so whatever
# finished comes back in $OUT even when a later step runs out of time. Rehearse here with
#   OUT=/tmp/out SMOKE=1 bash tools/device_bench.sh
# which uses the software adapter, the system Deno and node_modules, and tiny sizes. $OUT ends up with log.txt,
# e2e.md and outputs.tar.gz (every step's output), within the device's 8-file limit.
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

bench_env=(env CLIPCMP_BENCH_MODELS="$(readlink -f "$FULL")" CLIPCMP_BENCH_BATCHES=$BATCHES CLIPCMP_BENCH_STEPS=$STEPS
  CLIPCMP_BENCH_N=$N CLIPCMP_BENCH_DTYPES=${DTYPES:-fp32,fp16} CLIPCMP_BENCH_MODELS_RUN=${MODELS_RUN:-resnet,clip})
step e2e 200 "${bench_env[@]}" deno bench --allow-read --allow-write=out --allow-env bench/e2e_bench.ts
cp out/bench/e2e.md out/bench/e2e.json "$OUT/" 2>/dev/null
[ -z "${SMOKE:-}" ] && step torch 45 python3 tools/torch_baseline.py "$OUT/torch.json"
[ -z "${SMOKE:-}" ] || log "SKIP torch: no CUDA here"
step head 150 deno task zeroshot --clip "$FULL/clip-rn50" --imagenet --templates clip80 --device webgpu \
  data/samples/photo/n01614925_bald_eagle.jpg
step fp16 90 deno task fp16 --resnet "$FULL/dynamic/resnet50.onnx" --resnet-input unit --clip /tmp/clip-dyn \
  --batch "$FP16_BATCHES" --runs "$RUNS" --device webgpu --json
step compare 60 deno task compare --clip "$FULL/clip-rn50" --resnet "$FULL/resnet50.onnx" --resnet-input unit \
  --device webgpu
step preprocess 45 deno bench --allow-read --allow-write=out --allow-env bench/preprocess_bench.ts
log "done"
# The device returns at most 8 files: keep log.txt and the e2e summary, pack the rest.
(cd "$OUT" && files=$(ls | grep -v -e '^log.txt$' -e '^e2e.md$' -e '^outputs.tar.gz$') &&
  [ -n "$files" ] && tar -czf outputs.tar.gz $files && rm -f $files)
