// Top-k per row: the k (<= 10) largest values of each row of V [rows, n] and their column indices, largest
// first, ties broken by the lower index (the same order as the CPU reference), so only k values per row leave
// the GPU.
//
// Algorithm: one workgroup per row. Each invocation strides over the row keeping its own sorted top-k in
// private arrays (insertion), writes them to shared memory, and invocation 0 merges the wg * k candidates by
// the same insertion. NaN never enters a list. Values are compared as f32 whatever the element type.
// Non-finite values: a row holding any NaN or ±Inf is flagged by writing NONE (0xffffffff) as every one of its k
// indices and NaN as its values, so the host can refuse to score it without reading the row (the check costs
// one bit test per value it reads anyway).
// Bindings (group 0): 0 params (uniform), 1 values: array<elem> [rows*n], 2 out_idx: array<u32> [rows*k],
// 3 out_val: array<f32> [rows*k].
// Dispatch: (rows, 1, 1) workgroups of `wg` invocations. The host checks 1 <= k <= min(10, n).
// The host replaces the `elem` alias with f16 (and enables f16) for f16 values.

alias elem = f32;

override wg: u32 = 64;
const MAX_K: u32 = 10u;
const NONE: u32 = 0xffffffffu;

struct Params {
  rows: u32,
  n: u32,
  k: u32,
  _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<elem>;
@group(0) @binding(2) var<storage, read_write> out_idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out_val: array<f32>;

var<workgroup> cand_v: array<f32, wg * MAX_K>;
var<workgroup> cand_i: array<u32, wg * MAX_K>;
var<workgroup> bad_row: atomic<u32>;

// WGSL lets compilers assume finite math, so `v != v` may fold to false: test the bits instead.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// NaN or ±Inf: the exponent bits all set.
fn is_non_finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

fn better(a: f32, ia: u32, b: f32, ib: u32) -> bool {
  return ib == NONE || a > b || (a == b && ia < ib);
}

// Inserts (v, j) into the sorted list of the first p.k entries if it beats the last one.
fn insert(lv: ptr<function, array<f32, MAX_K>>, li: ptr<function, array<u32, MAX_K>>, v: f32, j: u32) {
  if (!better(v, j, (*lv)[p.k - 1u], (*li)[p.k - 1u])) {
    return;
  }
  var s = p.k - 1u;
  loop {
    if (s == 0u || !better(v, j, (*lv)[s - 1u], (*li)[s - 1u])) {
      break;
    }
    (*lv)[s] = (*lv)[s - 1u];
    (*li)[s] = (*li)[s - 1u];
    s--;
  }
  (*lv)[s] = v;
  (*li)[s] = j;
}

@compute @workgroup_size(wg)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let row = wid.x;
  let lid = lid3.x;
  let valid = row < p.rows;
  var lv: array<f32, MAX_K>;
  var li: array<u32, MAX_K>;
  for (var s = 0u; s < MAX_K; s++) {
    lv[s] = 0.0;
    li[s] = NONE;
  }
  if (lid == 0u) {
    atomicStore(&bad_row, 0u);
  }
  workgroupBarrier();
  var bad = false;
  for (var j = lid; valid && j < p.n; j += wg) {
    let v = f32(values[row * p.n + j]);
    if (is_non_finite(v)) {
      bad = true;
    }
    if (!is_nan(v)) {
      insert(&lv, &li, v, j);
    }
  }
  if (bad) {
    atomicStore(&bad_row, 1u);
  }
  for (var s = 0u; s < MAX_K; s++) {
    cand_v[lid * MAX_K + s] = lv[s];
    cand_i[lid * MAX_K + s] = li[s];
  }
  workgroupBarrier();
  if (lid != 0u || !valid) {
    return;
  }
  if (atomicLoad(&bad_row) != 0u) {
    for (var s = 0u; s < p.k; s++) {
      out_idx[row * p.k + s] = NONE;
      out_val[row * p.k + s] = bitcast<f32>(0x7fc00000u);
    }
    return;
  }
  for (var c = MAX_K; c < wg * MAX_K; c++) {
    if (cand_i[c] != NONE) {
      insert(&lv, &li, cand_v[c], cand_i[c]);
    }
  }
  for (var s = 0u; s < p.k; s++) {
    out_idx[row * p.k + s] = li[s];
    out_val[row * p.k + s] = lv[s];
  }
}
