#!/usr/bin/env bash
# Dev-only: packs what tools/device_bench.sh needs on the GPU machine (which reaches no registry) into .device/,
# a folder .git/info/exclude ignores: the Deno binary, node_modules trimmed to the files the run loads, and the
# Vulkan/GL loader .debs. Then call the device tool with carry [".device", ".gl"] and the command
# `bash tools/device_bench.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
grep -qx '/.gl/' .git/info/exclude 2>/dev/null || echo '/.gl/' >>.git/info/exclude
mkdir -p .device .gl
deno_bin="$(dirname "$(readlink -f "$(command -v deno)")")/deno"
[ -x "$deno_bin" ] || deno_bin="$(command -v deno)"
xz -T0 -6 -c "$deno_bin" >.device/deno.xz
ort=node_modules/.deno/onnxruntime-web@1.30.0/node_modules/onnxruntime-web/dist
keep='ort.webgpu.bundle.min.mjs|ort-wasm-simd-threaded.asyncify.mjs|ort-wasm-simd-threaded.asyncify.wasm'
tar -cJf .device/node_modules.tar.xz \
  $(find "$ort" -maxdepth 1 -type f | grep -Ev "/($keep)\$" | sed 's/^/--exclude=/') node_modules
if ! ls .gl/*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial
  apt-get $o update -qq
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .device/* .gl
