// Row-wise softmax and LayerNorm, the engine's Softmax (last axis) and LayerNormalization (last axis):
//   softmax:   y = exp(x - max(x)) / sum(exp(x - max(x)))
//   layernorm: y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta   (biased variance, as ONNX)
//
// Algorithm: one workgroup per row of D elements. Each invocation folds a strided share of the row, then a tree
// reduction in workgroup memory gives the row's max and sum (softmax) or sum and sum of squares about a first pass
// mean (layernorm: two passes over the row, so the variance does not cancel catastrophically). The data stays in
// the row's cache lines; accumulation is f32.
// Bindings (group 0): 0 params (uniform), 1 x: array<elem> [R, D], 2 gamma: array<elem> [D], 3 beta: array<elem>
// [D] (unused for softmax: a dummy buffer), 4 y: array<elem> [R, D].
// Dispatch: (min(R, 65535), ceil(R / 65535)) workgroups.
// Tunables: wg (workgroup size, a power of two), an override constant.

alias elem = f32;

override wg: u32 = 256;

struct Params {
  rows: u32,
  d: u32,
  mode: u32, // 0 softmax, 1 layernorm
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<elem>;
@group(0) @binding(2) var<storage, read> gamma: array<elem>;
@group(0) @binding(3) var<storage, read> beta: array<elem>;
@group(0) @binding(4) var<storage, read_write> y: array<elem>;

var<workgroup> red: array<f32, wg>;

// Sums (op 0) or maxes (op 1) red[0..wg) into red[0].
fn reduce(li: u32, op: u32) {
  for (var s = wg / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (li < s) {
      red[li] = select(red[li] + red[li + s], max(red[li], red[li + s]), op == 1u);
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(wg)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row = wid.y * groups.x + wid.x;
  // Uniform per workgroup, so every invocation of a workgroup past the end leaves before any barrier.
  if (row >= p.rows) {
    return;
  }
  let base = row * p.d;
  if (p.mode == 0u) {
    var m = -3.4028234663852886e38;
    for (var i = li; i < p.d; i += wg) {
      m = max(m, f32(x[base + i]));
    }
    red[li] = m;
    reduce(li, 1u);
    let rowMax = red[0];
    workgroupBarrier();
    var s = 0.0;
    for (var i = li; i < p.d; i += wg) {
      s += exp(f32(x[base + i]) - rowMax);
    }
    red[li] = s;
    reduce(li, 0u);
    let total = red[0];
    for (var i = li; i < p.d; i += wg) {
      y[base + i] = elem(exp(f32(x[base + i]) - rowMax) / total);
    }
    return;
  }
  var s = 0.0;
  for (var i = li; i < p.d; i += wg) {
    s += f32(x[base + i]);
  }
  red[li] = s;
  reduce(li, 0u);
  let mean = red[0] / f32(p.d);
  workgroupBarrier();
  var q = 0.0;
  for (var i = li; i < p.d; i += wg) {
    let c = f32(x[base + i]) - mean;
    q += c * c;
  }
  red[li] = q;
  reduce(li, 0u);
  let inv = inverseSqrt(red[0] / f32(p.d) + p.eps);
  for (var i = li; i < p.d; i += wg) {
    y[base + i] = elem((f32(x[base + i]) - mean) * inv * f32(gamma[i]) + f32(beta[i]));
  }
}
