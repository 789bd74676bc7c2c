// Tiled GEMM with a fused epilogue: the engine's one matrix kernel, for Gemm/MatMul, 1x1 convolutions and, as an
// implicit GEMM over NHWC activations, every convolution (BatchNorm folded into weights and bias at load):
//   C[M, N] = act(A[M, K] * B[K, N] + bias[N] + R[M, N])
// With `conv` set, A is never materialised: row r = (image, oy, ox) and column k = (ky, kx, ci) address
//   A[r, k] = X[image, oy*sh - ph + ky, ox*sw - pw + kx, ci]   (zero outside the image: padding),
// so M = N_img * OH * OW, N = C_out, K = KH * KW * C_in, and C is the NHWC output.
//
// Algorithm: each workgroup computes a tile_m x tile_n tile of C. For each K-slice of tile_k it stages A's
// tile_m x tile_k block (transposed, as vec4 of four rows) and B's tile_k x tile_n block (as vec4 of four columns)
// in workgroup memory; every invocation then accumulates a 4 x 4 register block with four vec4 multiply-adds per
// k. Global loads are bounds-checked element by element, so any M, N, K works (odd channels, batch 1 or 3).
// Accumulation is f32 (also for f16 tensors). The epilogue adds the bias, the residual, then applies the
// activation: 0 none, 1 ReLU, 2 QuickGELU x*sigmoid(1.702x), 3 GELU 0.5x(1+erf(x/sqrt 2)).
// Layouts: A row-major [M, K] (or X NHWC [N_img, H, W, C_in]), B row-major [K, N] (weights repacked once at load:
// a conv's to [KH, KW, C_in, C_out]), bias [N], R and C row-major [M, N].
// Bindings (group 0): 0 params (uniform), 1 a, 2 b, 3 bias, 4 residual, 5 c: array<elem>. Unused bias/residual
// are bound to a small dummy buffer and switched off in params.
// Batched: workgroup z picks one of `batch` independent products, offset by the strides sa, sb, sc (bias shared).
// Dispatch: (ceil(N / tile_n), ceil(M / tile_m), batch); workgroup size (tile_n / 4, tile_m / 4).
// erf_approx and activate() come from _math.wgsl, appended by the driver.
// Tunables: tile_m, tile_n (multiples of 4), tile_k as override constants; `conv` selects the implicit-GEMM
// loader at pipeline creation (a constant, so the other branch compiles away).
alias elem = f32;

override tile_m: u32 = 64;
override tile_n: u32 = 64;
override tile_k: u32 = 16;
override conv: bool = false;

struct Params {
  m: u32,
  n: u32,
  k: u32,
  flags: u32, // bit 0: bias, bit 1: residual; bits 8..15: activation
  // The convolution's geometry (read only when `conv` is set).
  h: u32,
  w: u32,
  cin: u32,
  oh: u32,
  ow: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  // Batched GEMM (MatMul over leading dims, workgroup z): element strides between the batch's matrices; 0
  // broadcasts an operand. R shares C's stride.
  sa: u32,
  sb: u32,
  sc: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<elem>;
@group(0) @binding(2) var<storage, read> b: array<elem>;
@group(0) @binding(3) var<storage, read> bias: array<elem>;
@group(0) @binding(4) var<storage, read> res: array<elem>;
@group(0) @binding(5) var<storage, read_write> c: array<elem>;

// as_[k * (tile_m / 4) + i]: rows 4i..4i+3 of the A tile at column k; bs[k * (tile_n / 4) + j]: columns 4j..4j+3.
var<workgroup> as_: array<vec4<f32>, tile_k * tile_m / 4>;
var<workgroup> bs: array<vec4<f32>, tile_k * tile_n / 4>;

// A[row, col]: row-major, or the input pixel and channel a convolution's output position and tap read.
fn load_a(base: u32, row: u32, col: u32) -> f32 {
  if (!conv) {
    return f32(a[base + row * p.k + col]);
  }
  let ox = row % p.ow;
  let oy = (row / p.ow) % p.oh;
  let img = row / (p.ow * p.oh);
  let ci = col % p.cin;
  let kx = (col / p.cin) % p.kw;
  let ky = col / (p.cin * p.kw);
  // i32, so that padding (negative coordinates) reads zero.
  let iy = i32(oy * p.sh + ky) - i32(p.ph);
  let ix = i32(ox * p.sw + kx) - i32(p.pw);
  if (iy < 0 || iy >= i32(p.h) || ix < 0 || ix >= i32(p.w)) {
    return 0.0;
  }
  return f32(a[((img * p.h + u32(iy)) * p.w + u32(ix)) * p.cin + ci]);
}

@compute @workgroup_size(tile_n / 4, tile_m / 4)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(local_invocation_id) lid: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let row0 = wid.y * tile_m;
  let abase = wid.z * p.sa;
  let bbase = wid.z * p.sb;
  let cbase = wid.z * p.sc;
  let col0 = wid.x * tile_n;
  let threads = (tile_m / 4u) * (tile_n / 4u);
  var acc: array<vec4<f32>, 4>;
  for (var k0 = 0u; k0 < p.k; k0 += tile_k) {
    // Stage A: tile_m x tile_k elements, each invocation a few, bounds-checked.
    for (var e = li; e < tile_m * tile_k; e += threads) {
      let r = e / tile_k;
      let kk = e % tile_k;
      let gr = row0 + r;
      let gk = k0 + kk;
      var v = 0.0;
      if (gr < p.m && gk < p.k) {
        v = load_a(abase, gr, gk);
      }
      as_[kk * (tile_m / 4u) + r / 4u][r % 4u] = v;
    }
    // Stage B: tile_k x tile_n elements.
    for (var e = li; e < tile_k * tile_n; e += threads) {
      let kk = e / tile_n;
      let cc = e % tile_n;
      let gk = k0 + kk;
      let gc = col0 + cc;
      var v = 0.0;
      if (gk < p.k && gc < p.n) {
        v = f32(b[bbase + gk * p.n + gc]);
      }
      bs[kk * (tile_n / 4u) + cc / 4u][cc % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < tile_k; kk++) {
      let av = as_[kk * (tile_m / 4u) + lid.y];
      let bv = bs[kk * (tile_n / 4u) + lid.x];
      acc[0] += av.x * bv;
      acc[1] += av.y * bv;
      acc[2] += av.z * bv;
      acc[3] += av.w * bv;
    }
    workgroupBarrier();
  }
  let act = (p.flags >> 8u) & 0xffu;
  for (var i = 0u; i < 4u; i++) {
    let gr = row0 + lid.y * 4u + i;
    if (gr >= p.m) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let gc = col0 + lid.x * 4u + j;
      if (gc >= p.n) {
        break;
      }
      var v = acc[i][j];
      if ((p.flags & 1u) != 0u) {
        v += f32(bias[gc]);
      }
      if ((p.flags & 2u) != 0u) {
        v += f32(res[cbase + gr * p.n + gc]);
      }
      c[cbase + gr * p.n + gc] = elem(activate(v, act));
    }
  }
}
