// f16 self-test. Deno has shipped shader-f16 builds whose f16 loads, stores or arithmetic silently returned
// zeros, so no f16 path is trusted until this kernel gives exact answers on the device in hand.
//
// Algorithm: for each element, out16[i] = x[i] * 2 + 0.5 computed in f16 (exactly representable for the
// inputs the host chooses), and out32[i] = f32(x[i]) checks the f16 -> f32 conversion.
// Bindings: 0 x: array<f16> (read), 1 out16: array<f16> (write), 2 out32: array<f32> (write).
// Dispatch: one workgroup of `wg` invocations; the host passes at most `wg` elements.
enable f16;

override wg: u32 = 64;

@group(0) @binding(0) var<storage, read> x: array<f16>;
@group(0) @binding(1) var<storage, read_write> out16: array<f16>;
@group(0) @binding(2) var<storage, read_write> out32: array<f32>;

@compute @workgroup_size(wg)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= arrayLength(&out32)) {
    return;
  }
  out16[i] = x[i] * 2.0h + 0.5h;
  out32[i] = f32(x[i]);
}
