//! The call-free sigmoid and tanh against f64, over the f32 range a cell
//! can see and beyond.

use fourstock_nn::activation;

fn grid() -> Vec<f32> {
    let mut xs: Vec<f32> = (-200_000..=200_000).map(|k| k as f32 * 5e-4).collect();
    xs.extend([
        0.0,
        -0.0,
        1e-30,
        -1e-30,
        1e-6,
        -1e-6,
        86.0,
        -86.0,
        87.5,
        -87.5,
        88.9,
        -88.9,
        1e4,
        -1e4,
        f32::MAX,
        f32::MIN,
    ]);
    xs
}

#[test]
fn sigmoid_is_within_3e7_relative() {
    let xs = grid();
    let mut got = xs.clone();
    activation::sigmoid(&mut got);
    let mut worst = 0f64;
    for (&x, &g) in xs.iter().zip(&got) {
        let want = 1.0 / (1.0 + (-(x as f64)).exp());
        if want < f32::MIN_POSITIVE as f64 {
            // Beyond -87 the result is below the normal range: only its
            // size matters.
            assert!((g as f64) < 1e-37, "sigmoid({x}) = {g}");
            continue;
        }
        let error = ((g as f64) - want).abs() / want;
        worst = worst.max(error);
        assert!(error <= 3e-7, "sigmoid({x}) = {g}, f64 says {want}");
    }
    assert!(worst > 0.0, "compared real values");
}

#[test]
fn tanh_is_within_3e7_absolute() {
    let xs = grid();
    let mut got = xs.clone();
    activation::tanh(&mut got);
    for (&x, &g) in xs.iter().zip(&got) {
        let want = (x as f64).tanh();
        assert!(
            ((g as f64) - want).abs() <= 3e-7,
            "tanh({x}) = {g}, f64 says {want}"
        );
    }
    let mut odd = vec![0.5f32, -0.5];
    activation::tanh(&mut odd);
    assert_eq!(odd[0], -odd[1], "odd");
}
