// Cosine similarity of every row of A [B, D] with every row of T [C, D], written to S [B, C] in f32.
//
// Algorithm: one invocation per output (b, c) accumulates dot(a, t), |a|^2 and |t|^2 in f32 (also for f16
// inputs), then S = dot / (sqrt(|a|^2) * sqrt(|t|^2)), so both sides are L2-normalised whatever the model did.
// A zero row gives 0, not NaN.
// Bindings (group 0): 0 params (uniform), 1 a: array<elem> [B*D], 2 t: array<elem> [C*D], 3 s: array<f32> [B*C].
// Dispatch: (ceil(C / wg_x), ceil(B / wg_y)); out-of-range invocations return early.
// The host replaces the `elem` alias with f16 (and enables f16) for f16 embeddings.

alias elem = f32;

override wg_x: u32 = 16;
override wg_y: u32 = 4;

struct Params {
  b: u32,
  c: u32,
  d: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<elem>;
@group(0) @binding(2) var<storage, read> t: array<elem>;
@group(0) @binding(3) var<storage, read_write> s: array<f32>;

@compute @workgroup_size(wg_x, wg_y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let b = gid.y;
  if (b >= p.b || c >= p.c) {
    return;
  }
  var dot = 0.0;
  var na = 0.0;
  var nt = 0.0;
  let ra = b * p.d;
  let rt = c * p.d;
  for (var k = 0u; k < p.d; k++) {
    let x = f32(a[ra + k]);
    let y = f32(t[rt + k]);
    dot += x * y;
    na += x * x;
    nt += y * y;
  }
  let denom = sqrt(na) * sqrt(nt);
  s[b * p.c + c] = select(0.0, dot / denom, denom > 0.0);
}
