// Distribution shifts rendered on the GPU, at 5 severities each (the host maps a severity to the parameters).
//
// Algorithms (x in [0,1] per channel, luma Y = 0.299 R + 0.587 G + 0.114 B, ITU-R 601 as PIL's "L"):
//   op 0 grayscale: mix(x, Y, a).
//   op 1 contrast:  (x - 0.5) * a + 0.5 (towards mid-grey).
//   op 2 noise:     x + a * n, n ~ N(0,1) per pixel and channel: a PCG hash of (seed, pixel, channel) gives two
//                   uniforms and Box-Muller turns them into n (computed in f32 whatever `elem` is).
//   op 3 pixelate:  the mean of the pixel's block of side `k` (blocks aligned to the top-left corner).
//   op 4 cartoon:   posterise to `k` levels per channel, then darken by the Sobel edge strength of Y:
//                   x * (1 - smoothstep(b, c, |grad Y|)).
//   blur_h/blur_v:  separable Gaussian, sigma a, radius k = ceil(3 sigma) (of 1.6 a for op 6), clamp-to-edge,
//                   weights normalised per pass; op 5 blurs RGB, op 6 (XDoG sketch) blurs Y with sigma a and 1.6 a
//                   into two channels, then
//                   D = G1 - b G2, out = 1 if D >= c else 1 + tanh(d (D - c)), as grey.
// Every result is rounded to 8 bits (round half up) and clamped; alpha is copied.
//
// Bindings (group 0): 0 params (uniform), 1 src: RGBA8 packed in u32 (width x height), 2 tmp: vec4<f32> per pixel
// between the blur passes (f32 in both variants), 3 out: RGBA8 packed in u32.
// Dispatch: (ceil(width / wg_x), ceil(height / wg_y)) for `pointwise`, `blur_h` and `blur_v`.
// The host replaces the `elem` alias with f16 (and enables f16) for the f16 variant: arithmetic on pixels and the
// blur accumulation happen in `elem`.

alias elem = f32;

override wg_x: u32 = 16;
override wg_y: u32 = 16;

struct Params {
  width: u32,
  height: u32,
  op: u32,
  seed: u32,
  k: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  a: f32,
  b: f32,
  c: f32,
  d: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> tmp: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

fn unpack(px: u32) -> vec3<elem> {
  return vec3<elem>(vec3<f32>(f32(px & 0xffu), f32((px >> 8u) & 0xffu), f32((px >> 16u) & 0xffu)) / 255.0);
}

fn pack(v: vec3<elem>, alpha: u32) -> u32 {
  let q = vec3<u32>(clamp(floor(vec3<f32>(v) * 255.0 + 0.5), vec3<f32>(0.0), vec3<f32>(255.0)));
  return q.x | (q.y << 8u) | (q.z << 16u) | (alpha << 24u);
}

fn luma(v: vec3<elem>) -> elem {
  return dot(v, vec3<elem>(0.299, 0.587, 0.114));
}

fn pixel(x: i32, y: i32) -> u32 {
  let cx = u32(clamp(x, 0, i32(p.width) - 1));
  let cy = u32(clamp(y, 0, i32(p.height) - 1));
  return src[cy * p.width + cx];
}

// PCG-style integer hash (O'Neill's pcg32 output function over a 32-bit state).
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn gaussian(i: u32, channel: u32) -> f32 {
  let h1 = pcg(p.seed ^ pcg(i * 6u + channel * 2u));
  let h2 = pcg(h1 ^ 0x9e3779b9u);
  let u1 = (f32(h1 >> 8u) + 1.0) / 16777217.0; // (0, 1]
  let u2 = f32(h2 >> 8u) / 16777216.0; // [0, 1)
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

@compute @workgroup_size(wg_x, wg_y)
fn pointwise(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.width || gid.y >= p.height) {
    return;
  }
  let i = gid.y * p.width + gid.x;
  let px = src[i];
  let alpha = px >> 24u;
  var v = unpack(px);
  let a = elem(p.a);
  switch p.op {
    case 0u: {
      v = mix(v, vec3<elem>(luma(v)), a);
    }
    case 1u: {
      v = (v - elem(0.5)) * a + elem(0.5);
    }
    case 2u: {
      v = v + a * vec3<elem>(vec3<f32>(gaussian(i, 0u), gaussian(i, 1u), gaussian(i, 2u)));
    }
    case 3u: {
      let x0 = (gid.x / p.k) * p.k;
      let y0 = (gid.y / p.k) * p.k;
      let x1 = min(x0 + p.k, p.width);
      let y1 = min(y0 + p.k, p.height);
      var acc = vec3<f32>(0.0);
      for (var y = y0; y < y1; y++) {
        for (var x = x0; x < x1; x++) {
          acc += vec3<f32>(unpack(src[y * p.width + x]));
        }
      }
      v = vec3<elem>(acc / f32((x1 - x0) * (y1 - y0)));
    }
    case 4u: {
      let levels = elem(p.k - 1u);
      let poster = floor(v * levels + elem(0.5)) / levels;
      let ix = i32(gid.x);
      let iy = i32(gid.y);
      var l: array<elem, 9>;
      for (var dy = -1; dy <= 1; dy++) {
        for (var dx = -1; dx <= 1; dx++) {
          l[(dy + 1) * 3 + dx + 1] = luma(unpack(pixel(ix + dx, iy + dy)));
        }
      }
      let gx = (l[2] + elem(2.0) * l[5] + l[8]) - (l[0] + elem(2.0) * l[3] + l[6]);
      let gy = (l[6] + elem(2.0) * l[7] + l[8]) - (l[0] + elem(2.0) * l[1] + l[2]);
      let g = sqrt(f32(gx * gx + gy * gy));
      v = poster * elem(1.0 - smoothstep(p.b, p.c, g));
    }
    default: {}
  }
  out[i] = pack(v, alpha);
}

fn weight(t: i32, sigma: f32) -> f32 {
  return exp(-f32(t * t) / (2.0 * sigma * sigma));
}

// Horizontal pass: x, z = RGB's R, B (op 5) or G1 partial (op 6, in x); y = G or the G2 partial (op 6).
@compute @workgroup_size(wg_x, wg_y)
fn blur_h(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.width || gid.y >= p.height) {
    return;
  }
  let r = i32(p.k);
  let ix = i32(gid.x);
  let iy = i32(gid.y);
  let xdog = p.op == 6u;
  var acc = vec3<elem>(0.0);
  var wsum = vec2<f32>(0.0);
  for (var t = -r; t <= r; t++) {
    var v = unpack(pixel(ix + t, iy));
    let w1 = weight(t, p.a);
    var w2 = w1;
    if (xdog) {
      w2 = weight(t, 1.6 * p.a);
      v = vec3<elem>(luma(v));
    }
    acc += v * vec3<elem>(elem(w1), elem(w2), elem(w1));
    wsum += vec2<f32>(w1, w2);
  }
  tmp[gid.y * p.width + gid.x] = vec4<f32>(vec3<f32>(acc) / vec3<f32>(wsum.x, wsum.y, wsum.x), 0.0);
}

@compute @workgroup_size(wg_x, wg_y)
fn blur_v(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= p.width || gid.y >= p.height) {
    return;
  }
  let r = i32(p.k);
  let xdog = p.op == 6u;
  var acc = vec3<elem>(0.0);
  var wsum = vec2<f32>(0.0);
  for (var t = -r; t <= r; t++) {
    let y = u32(clamp(i32(gid.y) + t, 0, i32(p.height) - 1));
    let v = vec3<elem>(tmp[y * p.width + gid.x].xyz);
    let w1 = weight(t, p.a);
    let w2 = select(w1, weight(t, 1.6 * p.a), xdog);
    acc += v * vec3<elem>(elem(w1), elem(w2), elem(w1));
    wsum += vec2<f32>(w1, w2);
  }
  let blurred = vec3<f32>(acc) / vec3<f32>(wsum.x, wsum.y, wsum.x);
  let alpha = src[gid.y * p.width + gid.x] >> 24u;
  var rgb = vec3<elem>(blurred);
  if (xdog) {
    let dd = blurred.x - p.b * blurred.y;
    let e = select(1.0 + tanh(p.d * (dd - p.c)), 1.0, dd >= p.c);
    rgb = vec3<elem>(elem(e));
  }
  out[gid.y * p.width + gid.x] = pack(rgb, alpha);
}
