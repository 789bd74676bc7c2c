// Shared scalar math for the engine's kernels, appended to a kernel's source by its driver (WGSL has no
// includes): erf and the activations fused into epilogues and elementwise ops. Everything is f32.

fn erf_approx(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26: |error| < 1.5e-7.
  let s = sign(x);
  let t = 1.0 / (1.0 + 0.3275911 * abs(x));
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t *
    exp(-x * x);
  return s * y;
}

// Activation codes: 0 none, 1 ReLU, 2 QuickGELU x*sigmoid(1.702x), 3 GELU 0.5x(1+erf(x/sqrt 2)).
fn activate(x: f32, act: u32) -> f32 {
  switch act {
    case 1u: { return max(x, 0.0); }
    case 2u: { return x / (1.0 + exp(-1.702 * x)); }
    case 3u: { return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476)); }
    default: { return x; }
  }
}
