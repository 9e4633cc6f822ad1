//! The hand-written packed kernel against candle's matmul: the same
//! `x W + b` within 1e-5, for every batch size it serves, odd widths,
//! zero and one-hot inputs, with and without a bias, on every instruction
//! set this CPU has and the portable loop; and f16 panels against candle's
//! matmul on the weights rounded to f16 by candle.

use candle_core::{DType, Device, Tensor};
use fourstock_nn::kernel::{Isa, PackedWeights, Precision, SMALL_BATCH};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Uniform in ±`scale`.
fn values(rng: &mut StdRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-scale..scale)).collect()
}

/// Weights at the scale of a trained layer's: ±1/sqrt(in), so outputs are
/// of order 1 and 1e-5 means something.
fn weights(rng: &mut StdRng, input: usize, out: usize) -> Vec<f32> {
    values(rng, input * out, 1.0 / (input as f32).sqrt())
}

/// Inputs as featurizers make them: a third zeros, a third ones, the rest
/// dense.
fn features(rng: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match rng.random_range(0..3) {
            0 => 0.0,
            1 => 1.0,
            _ => rng.random_range(-1.0f32..1.0),
        })
        .collect()
}

fn candle_affine(x: &[f32], rows: usize, w: &[f32], bias: Option<&[f32]>, out: usize) -> Vec<f32> {
    let input = x.len() / rows;
    let x = Tensor::from_slice(x, (rows, input), &Device::Cpu).unwrap();
    let w = Tensor::from_slice(w, (input, out), &Device::Cpu).unwrap();
    let mut y = x.matmul(&w).unwrap();
    if let Some(b) = bias {
        let b = Tensor::from_slice(b, out, &Device::Cpu).unwrap();
        y = y.broadcast_add(&b).unwrap();
    }
    y.flatten_all().unwrap().to_vec1().unwrap()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        let tolerance = 1e-5 * w.abs().max(1.0);
        assert!(
            (g - w).abs() <= tolerance,
            "{what}: value {k} is {g}, candle says {w}"
        );
    }
}

#[test]
fn equals_candle_matmul_for_every_small_batch() {
    let mut rng = StdRng::seed_from_u64(7);
    for (input, out) in [
        (1, 1),
        (37, 13),
        (128, 512),
        (1009, 512),
        (512, 2048),
        (24, 17),
    ] {
        let w = weights(&mut rng, input, out);
        let b = values(&mut rng, out, 1.0);
        let packed = PackedWeights::new(&w, input, out);
        assert_eq!((packed.input(), packed.out()), (input, out));
        for rows in (1..=17).chain([SMALL_BATCH, SMALL_BATCH + 1]) {
            let x = features(&mut rng, rows * input);
            let want = candle_affine(&x, rows, &w, Some(&b), out);
            let want_unbiased = candle_affine(&x, rows, &w, None, out);
            for isa in Isa::available() {
                let what = format!("{isa:?}: {rows} x {input} -> {out}");
                assert_close(&packed.affine_on(isa, &x, rows, Some(&b)), &want, &what);
                assert_close(
                    &packed.affine_on(isa, &x, rows, None),
                    &want_unbiased,
                    &format!("{what} without bias"),
                );
            }
        }
    }
}

#[test]
fn f16_panels_equal_candle_matmul_on_f16_rounded_weights() {
    let mut rng = StdRng::seed_from_u64(9);
    for (input, out) in [(1, 1), (37, 13), (1009, 512), (512, 2048), (24, 17)] {
        let w = weights(&mut rng, input, out);
        let b = values(&mut rng, out, 1.0);
        // candle's own rounding: to an f16 tensor and back.
        let rounded = Tensor::from_slice(&w, (input, out), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F16)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_ne!(rounded, w, "{input} x {out}: rounding changed nothing");
        // The rounding the kernel packs with.
        let ours: Vec<f32> = w.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect();
        assert_eq!(ours, rounded, "half's f16 and candle's disagree");
        let packed = PackedWeights::with_precision(&w, input, out, Precision::F16);
        assert_eq!(packed.precision(), Precision::F16);
        for rows in (1..=9).chain([16, SMALL_BATCH]) {
            let x = features(&mut rng, rows * input);
            let want = candle_affine(&x, rows, &rounded, Some(&b), out);
            for isa in Isa::available() {
                let what = format!("f16 {isa:?}: {rows} x {input} -> {out}");
                assert_close(&packed.affine_on(isa, &x, rows, Some(&b)), &want, &what);
            }
        }
    }
}

#[test]
fn zero_inputs_give_the_bias_and_the_tensor_form_agrees() {
    let mut rng = StdRng::seed_from_u64(8);
    let (input, out) = (64, 48);
    let w = weights(&mut rng, input, out);
    let b = values(&mut rng, out, 1.0);
    let packed = PackedWeights::new(&w, input, out);
    let zeros = vec![0.0; 9 * input];
    for isa in Isa::available() {
        let y = packed.affine_on(isa, &zeros, 9, Some(&b));
        assert_eq!(y, [&b[..]; 9].concat(), "{isa:?}");
    }
    assert_eq!(Isa::best(), Isa::available()[0]);

    let x = features(&mut rng, 3 * input);
    let xt = Tensor::from_slice(&x, (3, input), &Device::Cpu).unwrap();
    let wt = Tensor::from_slice(&w, (input, out), &Device::Cpu).unwrap();
    let from_tensor = PackedWeights::from_tensor(&wt).unwrap();
    let y = from_tensor.affine_tensor(&xt, Some(&b)).unwrap();
    assert_eq!(y.dims(), [3, out]);
    assert_close(
        &y.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        &candle_affine(&x, 3, &w, Some(&b), out),
        "tensor form",
    );
    let wrong = Tensor::zeros((3, input + 1), candle_core::DType::F32, &Device::Cpu).unwrap();
    assert!(from_tensor.affine_tensor(&wrong, None).is_err());
}

#[test]
fn the_sparse_affine_equals_candle_matmul() {
    use fourstock_nn::sparse::sparse_affine;
    let mut rng = StdRng::seed_from_u64(11);
    for (input, out) in [(1, 1), (37, 20), (1000, 512), (300, 81)] {
        let w = weights(&mut rng, input, out);
        let b = values(&mut rng, out, 0.5);
        for rows in [1, 3, 64, 65] {
            let x = features(&mut rng, rows * input);
            let got = sparse_affine(&x, rows, &w, out, &b);
            let want = candle_affine(&x, rows, &w, Some(&b), out);
            assert_close(&got, &want, &format!("sparse {rows}x{input}x{out}"));
        }
    }
}

#[test]
fn the_into_forms_write_what_the_allocating_forms_return() {
    use fourstock_nn::sparse::{sparse_affine, sparse_row_into};
    let mut rng = StdRng::seed_from_u64(12);
    for (input, out) in [(1, 1), (37, 20), (300, 81), (128, 512)] {
        let w = weights(&mut rng, input, out);
        let b = values(&mut rng, out, 0.5);
        let packed = PackedWeights::new(&w, input, out);
        for rows in [1, 2, 5, 9, SMALL_BATCH] {
            let x = features(&mut rng, rows * input);
            // Stale values in `y` must not leak into the result.
            let mut y = vec![f32::NAN; rows * out];
            packed.affine_into(&x, rows, Some(&b), &mut y);
            assert_eq!(y, packed.affine(&x, rows, Some(&b)), "{rows}x{input}x{out}");
            packed.affine_into(&x, rows, None, &mut y);
            assert_eq!(
                y,
                packed.affine(&x, rows, None),
                "{rows}x{input}x{out} no bias"
            );

            // Row by row from (index, value) pairs: the same bits as the
            // dense rows' sparse projection.
            let dense = sparse_affine(&x, rows, &w, out, &b);
            for (r, want) in dense.chunks_exact(out).enumerate() {
                let pairs: Vec<(u32, f32)> = x[r * input..(r + 1) * input]
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| v != 0.0)
                    .map(|(j, &v)| (j as u32, v))
                    .collect();
                let mut got = vec![f32::NAN; out];
                sparse_row_into(&pairs, &w, out, &b, &mut got);
                assert_eq!(got, want, "pairs {rows}x{input}x{out} row {r}");
            }
        }
    }
}
