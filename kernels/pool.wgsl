// Max and average pooling over NHWC activations: the engine's MaxPool, AveragePool and GlobalAveragePool.
//
// Algorithm: one invocation per output element (image, oy, ox, channel), channels fastest so that neighbouring
// invocations read neighbouring memory. It scans its kh x kw window: max ignores the padding (ONNX MaxPool);
// average divides by the taps inside the image, or by kh * kw when count_include_pad is set (ONNX AveragePool).
// GlobalAveragePool is the average with the window the whole image. Accumulation is f32.
// Bindings (group 0): 0 params (uniform), 1 x: array<elem> NHWC [N, H, W, C], 2 y: array<elem> NHWC [N, OH, OW, C].
// Dispatch: ceil(N * OH * OW * C / wg) workgroups as (min(count, 65535), ceil(count / 65535)); invocations past
// the end return at once.
// Tunables: wg (workgroup size), an override constant.

alias elem = f32;

override wg: u32 = 256;

struct Params {
  total: u32, // N * OH * OW * C
  h: u32,
  w: u32,
  c: u32,
  oh: u32,
  ow: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  mode: u32, // 0 max, 1 average
  count_include_pad: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<elem>;
@group(0) @binding(2) var<storage, read_write> y: array<elem>;

@compute @workgroup_size(wg)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) li: u32,
) {
  let o = (wid.y * groups.x + wid.x) * wg + li;
  if (o >= p.total) {
    return;
  }
  let ch = o % p.c;
  let ox = (o / p.c) % p.ow;
  let oy = (o / (p.c * p.ow)) % p.oh;
  let img = o / (p.c * p.ow * p.oh);
  var best = -3.4028234663852886e38;
  var sum = 0.0;
  var taps = 0u;
  for (var ky = 0u; ky < p.kh; ky++) {
    let iy = i32(oy * p.sh + ky) - i32(p.ph);
    if (iy < 0 || iy >= i32(p.h)) {
      continue;
    }
    for (var kx = 0u; kx < p.kw; kx++) {
      let ix = i32(ox * p.sw + kx) - i32(p.pw);
      if (ix < 0 || ix >= i32(p.w)) {
        continue;
      }
      let v = f32(x[((img * p.h + u32(iy)) * p.w + u32(ix)) * p.c + ch]);
      best = max(best, v);
      sum += v;
      taps++;
    }
  }
  var out = best;
  if (p.mode == 1u) {
    let d = select(f32(taps), f32(p.kh * p.kw), p.count_include_pad != 0u);
    out = select(0.0, sum / d, d > 0.0);
  }
  y[o] = elem(out);
}
