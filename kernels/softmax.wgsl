// Row-wise softmax with a temperature over selected columns: P[b, j] = softmax_j(scale * L[b, idx[j]]).
// With `idx` the identity this is a plain softmax; with a label set's class indices it restricts a 1000-way
// classifier to that set (CLIP uses scale = 100, its logit scale).
//
// Algorithm: one workgroup per row. Each invocation strides over the row keeping a running max, the workgroup
// reduces the max in shared memory, then does the same for sum(exp(x - max)), then writes exp(x - max) / sum.
// Subtracting the max keeps it stable for large logits. Accumulation is f32.
// Bindings (group 0): 0 params (uniform), 1 logits: array<elem> [B*N], 2 idx: array<u32> [M],
// 3 probs: array<f32> [B*M].
// Dispatch: (B, 1, 1) workgroups of `wg` invocations; `wg` must be a power of two.
// The host replaces the `elem` alias with f16 (and enables f16) for f16 logits; the math stays f32.

alias elem = f32;

override wg: u32 = 64;

struct Params {
  rows: u32,
  n: u32, // logits per row
  m: u32, // selected columns
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<elem>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;

var<workgroup> red: array<f32, wg>;

fn reduce(lid: u32, is_max: bool) -> f32 {
  var stride = wg / 2u;
  loop {
    if (stride == 0u) {
      break;
    }
    if (lid < stride) {
      red[lid] = select(red[lid] + red[lid + stride], max(red[lid], red[lid + stride]), is_max);
    }
    workgroupBarrier();
    stride = stride / 2u;
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(wg)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let row = wid.x;
  let lid = lid3.x;
  // Every invocation takes part in the barriers, so the row bound is checked per element, not by returning.
  let valid = row < p.rows;
  let base = row * p.n;
  var mx = -3.4028235e38;
  for (var j = lid; valid && j < p.m; j += wg) {
    mx = max(mx, p.scale * f32(logits[base + idx[j]]));
  }
  red[lid] = mx;
  workgroupBarrier();
  mx = reduce(lid, true);
  var sum = 0.0;
  for (var j = lid; valid && j < p.m; j += wg) {
    sum += exp(p.scale * f32(logits[base + idx[j]]) - mx);
  }
  red[lid] = sum;
  workgroupBarrier();
  sum = reduce(lid, false);
  for (var j = lid; valid && j < p.m; j += wg) {
    probs[row * p.m + j] = exp(p.scale * f32(logits[base + idx[j]]) - mx) / sum;
  }
}
