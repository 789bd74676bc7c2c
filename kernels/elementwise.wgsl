// Strided elementwise ops: the engine's Add/Sub/Mul/Div/Pow with broadcasting, its unary ops, and every data
// movement that is an index map (Transpose, Slice, Concat into an output slice, Split, Expand, Cast, and the
// NCHW <-> NHWC layout changes). Over an iteration shape of up to 8 dims, innermost last:
//   out[o_off + sum_d c_d * so_d] = f(a[a_off + sum_d c_d * sa_d], b[b_off + sum_d c_d * sb_d])
// A stride of 0 broadcasts an operand along that dim; permuted strides transpose; an offset and strides select a
// slice; an output offset and strides write into part of a larger tensor (Concat).
//
// Algorithm: one invocation per element of the iteration shape; its index is split into coordinates from the
// innermost dim out, and each coordinate scaled by the three strides. The driver first drops size-1 dims and
// merges neighbours that are contiguous in all three views, so most ops split their index once or twice. Values are computed in f32 (ids below 2^24
// are exact), except a plain copy, which converts the element directly (exact for i32 too).
// Op codes: 0 copy/cast; binary 1 add, 2 sub, 3 mul, 4 div, 5 pow, 6 min, 7 max; unary 16 ReLU, 17 sigmoid,
// 18 sqrt, 19 erf, 20 neg, 21 reciprocal, 22 tanh, 23 exp, 24 abs, 25 QuickGELU, 26 GELU, 27 clip to
// [alpha, beta], 28 log, 29 fill with alpha (Pad's border).
// Bindings (group 0): 0 params (uniform), 1 a: array<ein>, 2 b: array<ein> (a dummy for unary ops),
// 3 out: array<eout>.
// Dispatch: ceil(total / wg) workgroups as (min(count, 65535), ceil(count / 65535)).
// Tunables: wg (workgroup size), an override constant. ein and eout are specialised per call site (a Cast changes
// the type: f32 <-> f16, i32 -> float).
alias ein = f32;
alias eout = f32;

override wg: u32 = 256;

struct Params {
  total: u32,
  op: u32,
  a_off: u32,
  b_off: u32,
  o_off: u32,
  alpha: f32,
  beta: f32,
  rank: u32, // dims used, at the end of the arrays (the driver merges dims that are contiguous in every view)
  dims: array<vec4<u32>, 2>,
  sa: array<vec4<u32>, 2>,
  sb: array<vec4<u32>, 2>,
  so: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<ein>;
@group(0) @binding(2) var<storage, read> b: array<ein>;
@group(0) @binding(3) var<storage, read_write> out: array<eout>;

fn binary(op: u32, x: f32, y: f32) -> f32 {
  switch op {
    case 1u: { return x + y; }
    case 2u: { return x - y; }
    case 3u: { return x * y; }
    case 4u: { return x / y; }
    case 5u: {
      // ONNX Pow: x^y, with x^2 exact and negative bases allowed for integer exponents.
      if (y == 2.0) {
        return x * x;
      }
      let m = pow(abs(x), y);
      let odd = y == floor(y) && (abs(y) % 2.0) == 1.0;
      return select(m, -m, x < 0.0 && odd);
    }
    case 6u: { return min(x, y); }
    default: { return max(x, y); }
  }
}

fn unary(op: u32, x: f32) -> f32 {
  switch op {
    case 16u: { return max(x, 0.0); }
    case 17u: { return 1.0 / (1.0 + exp(-x)); }
    case 18u: { return sqrt(x); }
    case 19u: { return erf_approx(x); }
    case 20u: { return -x; }
    case 21u: { return 1.0 / x; }
    case 22u: { return tanh(x); }
    case 23u: { return exp(x); }
    case 24u: { return abs(x); }
    case 25u: { return activate(x, 2u); }
    case 26u: { return activate(x, 3u); }
    case 27u: { return clamp(x, p.alpha, p.beta); }
    case 29u: { return p.alpha; }
    default: { return log(x); }
  }
}

@compute @workgroup_size(wg)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let i = (wid.y * groups.x + wid.x) * wg + li;
  if (i >= p.total) {
    return;
  }
  var rest = i;
  var ia = p.a_off;
  var ib = p.b_off;
  var io = p.o_off;
  for (var d = 7i; d >= 8i - i32(p.rank); d--) {
    let q = u32(d) / 4u;
    let r = u32(d) % 4u;
    let n = p.dims[q][r];
    let c = rest % n;
    rest = rest / n;
    ia += c * p.sa[q][r];
    ib += c * p.sb[q][r];
    io += c * p.so[q][r];
  }
  if (p.op == 0u) {
    out[io] = eout(a[ia]);
  } else if (p.op < 16u) {
    out[io] = eout(binary(p.op, f32(a[ia]), f32(b[ib])));
  } else {
    out[io] = eout(unary(p.op, f32(a[ia])));
  }
}
