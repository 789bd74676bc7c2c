// Row-wise softmax and LayerNorm, the engine's Softmax (last axis) and LayerNormalization (last axis):
//   softmax:   y = exp(x - max(x)) / sum(exp(x - max(x)))
//   layernorm: y = (x - mean(x)) / sqrt(var(x) + eps) * gamma + beta   (biased variance, as ONNX)
//
// Algorithm: `lanes` invocations per row of D elements, wg / lanes rows per workgroup (short rows, such as 77
// attention scores or a 16-wide LayerNorm, share a workgroup instead of idling 256 invocations each). Each lane
// folds a strided share of its row, then a tree reduction over the row's lanes in workgroup memory gives the row's
// max and sum (softmax) or sum and sum of squares about a first-pass mean (layernorm: two passes over the row, so
// the variance does not cancel catastrophically). Accumulation is f32. Rows past the end take part in the
// barriers but read and write nothing.
// Bindings (group 0): 0 params (uniform), 1 x: array<elem> [R, D], 2 gamma: array<elem> [D], 3 beta: array<elem>
// [D] (unused for softmax: a dummy buffer), 4 y: array<elem> [R, D].
// Dispatch: ceil(R / (wg / lanes)) workgroups as (min(count, 65535), ceil(count / 65535)).
// Tunables: wg (workgroup size) and lanes (invocations per row), powers of two with lanes <= wg, as override
// constants; the driver picks lanes from D.

alias elem = f32;

override wg: u32 = 256;
override lanes: u32 = 256;

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

// Sums (op 0) or maxes (op 1) each row's lanes red[base .. base + lanes) into red[base].
fn reduce(li: u32, lane: u32, op: u32) {
  for (var s = lanes / 2u; s > 0u; s = s / 2u) {
    workgroupBarrier();
    if (lane < s) {
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
  let lane = li % lanes;
  let first = li - lane; // this row's first slot in red
  let row = (wid.y * groups.x + wid.x) * (wg / lanes) + li / lanes;
  let live = row < p.rows;
  // Inactive rows read nothing: their loops run zero times, but they still reach every barrier.
  let d = select(0u, p.d, live);
  let base = row * p.d;
  if (p.mode == 0u) {
    var m = -3.4028234663852886e38;
    for (var i = lane; i < d; i += lanes) {
      m = max(m, f32(x[base + i]));
    }
    red[li] = m;
    reduce(li, lane, 1u);
    let rowMax = red[first];
    workgroupBarrier();
    var s = 0.0;
    for (var i = lane; i < d; i += lanes) {
      s += exp(f32(x[base + i]) - rowMax);
    }
    red[li] = s;
    reduce(li, lane, 0u);
    let total = red[first];
    for (var i = lane; i < d; i += lanes) {
      y[base + i] = elem(exp(f32(x[base + i]) - rowMax) / total);
    }
    return;
  }
  var s = 0.0;
  for (var i = lane; i < d; i += lanes) {
    s += f32(x[base + i]);
  }
  red[li] = s;
  reduce(li, lane, 0u);
  let mean = red[first] / f32(p.d);
  workgroupBarrier();
  var q = 0.0;
  for (var i = lane; i < d; i += lanes) {
    let c = f32(x[base + i]) - mean;
    q += c * c;
  }
  red[li] = q;
  reduce(li, lane, 0u);
  let inv = inverseSqrt(red[first] / f32(p.d) + p.eps);
  for (var i = lane; i < d; i += lanes) {
    y[base + i] = elem((f32(x[base + i]) - mean) * inv * f32(gamma[i]) + f32(beta[i]));
  }
}
