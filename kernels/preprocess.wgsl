// Preprocessing at PIL/torchvision parity: resize the short side, centre-crop, scale to [0,1], normalise,
// and write NCHW straight into the buffer the model reads.
//
// Algorithm: PIL's separable 8-bit resampling. The host precomputes, for the crop's columns and rows only,
// each output's first source index, sample count and 22-bit fixed-point weights (PIL's precompute_coeffs and
// normalize_coeffs_8bpc; the support widens by the scale factor when downscaling, which is the antialiasing).
//   pass `horizontal`: for every source row the crop touches and every crop column, accumulate
//     pixel * weight in i32 from 1 << 21, shift right by 22, clamp to [0,255]; store packed RGB8 in `tmp`.
//   pass `vertical`: the same down each column of `tmp`, then (u8 / 255 - mean) / std into `out`.
// Rounding to uint8 between the passes is what PIL does, and is needed for exact parity.
//
// Bindings (group 0): 0 params: one Params per image (storage), 1 src: the images' source windows (only what the
// crops touch), RGBA8 packed in u32, one after another, 2 coeffs: i32 starts/counts/weights for both axes of
// every image, 3 tmp: packed RGB8 (span_rows x cols per image), 4 out: NCHW elem, the images' slots. The host
// splits a batch into groups whose buffers fit the device's binding limit (usually one group) and uploads each
// group's windows, coefficients and params with one write each.
// Dispatch, one image per z: horizontal (ceil(cols / wg_x), ceil(max tmp_rows / wg_y), images);
// vertical (ceil(cols / wg_x), ceil(rows / wg_y), images). Invocations outside their image return early.
// The host replaces the `elem` alias with f16 (and enables f16) for f16 outputs.

alias elem = f32;

override wg_x: u32 = 16;
override wg_y: u32 = 16;

struct Params {
  src_width: u32, // pixels per row of this image's source window
  cols: u32, // crop width
  rows: u32, // crop height
  tmp_rows: u32, // source rows the crop touches
  hk: u32, // horizontal kernel size
  vk: u32, // vertical kernel size
  h_off: u32, // coeffs offset of [h_start(cols), h_count(cols), h_weights(cols * hk)]
  v_off: u32, // coeffs offset of [v_start(rows), v_count(rows), v_weights(rows * vk)]
  out_base: u32, // element offset of this image in the bound output range
  src_off: u32, // u32 offset of this image's window in `src`
  tmp_off: u32, // u32 offset of this image's rows in `tmp`
  _pad: u32,
  mean: vec4<f32>,
  stdev: vec4<f32>,
}

const PRECISION_BITS: u32 = 22u;
const HALF: i32 = 1 << 21u;

@group(0) @binding(0) var<storage, read> params: array<Params>;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> coeffs: array<i32>;
@group(0) @binding(3) var<storage, read_write> tmp: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<elem>;

fn clip8(acc: i32) -> u32 {
  return u32(clamp(acc >> PRECISION_BITS, 0, 255));
}

@compute @workgroup_size(wg_x, wg_y)
fn horizontal(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = params[gid.z];
  let x = gid.x;
  let y = gid.y;
  if (x >= p.cols || y >= p.tmp_rows) {
    return;
  }
  let start = u32(coeffs[p.h_off + x]);
  let count = u32(coeffs[p.h_off + p.cols + x]);
  let wbase = p.h_off + 2u * p.cols + x * p.hk;
  var acc = vec3<i32>(HALF, HALF, HALF);
  let row = p.src_off + y * p.src_width + start;
  for (var k = 0u; k < count; k++) {
    let px = src[row + k];
    let rgb = vec3<i32>(i32(px & 0xffu), i32((px >> 8u) & 0xffu), i32((px >> 16u) & 0xffu));
    acc += rgb * coeffs[wbase + k];
  }
  tmp[p.tmp_off + y * p.cols + x] = clip8(acc.r) | (clip8(acc.g) << 8u) | (clip8(acc.b) << 16u);
}

@compute @workgroup_size(wg_x, wg_y)
fn vertical(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p = params[gid.z];
  let x = gid.x;
  let y = gid.y;
  if (x >= p.cols || y >= p.rows) {
    return;
  }
  let start = u32(coeffs[p.v_off + y]);
  let count = u32(coeffs[p.v_off + p.rows + y]);
  let wbase = p.v_off + 2u * p.rows + y * p.vk;
  var acc = vec3<i32>(HALF, HALF, HALF);
  for (var k = 0u; k < count; k++) {
    let px = tmp[p.tmp_off + (start + k) * p.cols + x];
    let rgb = vec3<i32>(i32(px & 0xffu), i32((px >> 8u) & 0xffu), i32((px >> 16u) & 0xffu));
    acc += rgb * coeffs[wbase + k];
  }
  let unit = vec3<f32>(f32(clip8(acc.r)), f32(clip8(acc.g)), f32(clip8(acc.b))) / 255.0;
  let v = (unit - p.mean.xyz) / p.stdev.xyz;
  let plane = p.rows * p.cols;
  let o = p.out_base + y * p.cols + x;
  out[o] = elem(v.x);
  out[o + plane] = elem(v.y);
  out[o + 2u * plane] = elem(v.z);
}
