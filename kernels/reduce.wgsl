// Reductions over the middle dim of a [outer, R, inner] view: the engine's ReduceMean/ReduceSum/ReduceMax/
// ReduceMin/ReduceSumSquare/ReduceL2 over one contiguous run of axes, GlobalAveragePool over NHWC ([N, H*W, C]),
// and ArgMax/ArgMin (first index of the extreme value, as ONNX's select_last_index = 0):
//   out[o * inner + i] = reduce_{r < R} x[(o * R + r) * inner + i]
// Algorithm: one invocation per output element, consecutive invocations on consecutive `i` so that their loads
// are coalesced (channels fastest in NHWC). Accumulation is f32.
// Modes: 0 sum, 1 mean, 2 max, 3 min, 4 sum of squares, 5 L2 norm, 6 argmax, 7 argmin.
// Bindings (group 0): 0 params (uniform), 1 x: array<ein>, 2 out: array<eout> (i32 for argmax/argmin).
// Dispatch: ceil(outer * inner / wg) workgroups as (min(count, 65535), ceil(count / 65535)).
// Tunables: wg (workgroup size), an override constant.
alias ein = f32;
alias eout = f32;

override wg: u32 = 256;

struct Params {
  outer: u32,
  r: u32,
  inner: u32,
  mode: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<ein>;
@group(0) @binding(2) var<storage, read_write> out: array<eout>;

@compute @workgroup_size(wg)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let e = (wid.y * groups.x + wid.x) * wg + li;
  if (e >= p.outer * p.inner) {
    return;
  }
  let o = e / p.inner;
  let i = e % p.inner;
  let base = o * p.r * p.inner + i;
  var acc = 0.0;
  var best = f32(x[base]);
  var at = 0u;
  for (var r = 0u; r < p.r; r++) {
    let v = f32(x[base + r * p.inner]);
    acc += select(v, v * v, p.mode == 4u || p.mode == 5u);
    if ((p.mode == 2u || p.mode == 6u) && v > best) {
      best = v;
      at = r;
    }
    if ((p.mode == 3u || p.mode == 7u) && v < best) {
      best = v;
      at = r;
    }
  }
  var y = acc;
  switch p.mode {
    case 1u: { y = acc / f32(p.r); }
    case 2u, 3u: { y = best; }
    case 5u: { y = sqrt(acc); }
    case 6u, 7u: { y = f32(at); }
    default: {}
  }
  out[e] = eout(y);
}
