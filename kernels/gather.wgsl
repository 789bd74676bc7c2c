// Row gather: the engine's Gather on axis 0 (token embeddings: table [V, D], ids [R] -> [R, D]) and GatherND with
// batch_dims = 1 and one index per row (pooling the end-of-text token: data [B, T, D], indices [B, 1] -> [B, D]):
//   out[(g * R + r) * D + j] = data[(g * T + wrap(idx[g * R + r])) * D + j]
// for G groups of R indices over G blocks of T rows (G = 1 for Gather). Negative indices count from the end (as
// ONNX); an index outside [-T, T) writes zeros.
// Algorithm: one invocation per output element, j fastest, so a row is copied by consecutive invocations.
// Bindings (group 0): 0 params (uniform), 1 data: array<elem>, 2 idx: array<i32>, 3 out: array<elem>.
// Dispatch: ceil(G * R * D / wg) workgroups as (min(count, 65535), ceil(count / 65535)).
// Tunables: wg (workgroup size), an override constant.
alias elem = f32;

override wg: u32 = 256;

struct Params {
  groups: u32,
  r: u32,
  t: u32,
  d: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> data: array<elem>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<elem>;

@compute @workgroup_size(wg)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) ngroups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let e = (wid.y * ngroups.x + wid.x) * wg + li;
  if (e >= p.groups * p.r * p.d) {
    return;
  }
  let j = e % p.d;
  let row = e / p.d; // g * R + r
  let g = row / p.r;
  var k = idx[row];
  if (k < 0) {
    k += i32(p.t);
  }
  if (k < 0 || k >= i32(p.t)) {
    out[e] = elem(0.0);
    return;
  }
  out[e] = data[(g * p.t + u32(k)) * p.d + j];
}
