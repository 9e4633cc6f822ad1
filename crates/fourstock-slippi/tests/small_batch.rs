//! The small-batch path (plain loops and fourstock's hand-written kernel)
//! against the candle path, for the core and the head: the same numbers
//! within 1e-5, step after step with the state carried, for every
//! LayerNorm and activation a config can name, at batch 1 and 3.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use fourstock_slippi::config::{Activation, CoreConfig, HeadConfig, LayerNormKind};
use fourstock_slippi::controller::ControllerClasses;
use fourstock_slippi::{timing, weights, SlippiConfig, SlippiModel};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn config(
    layer_norm: LayerNormKind,
    activation: Activation,
    gelu_approximate: bool,
) -> SlippiConfig {
    let base = timing::practical_config("small-batch");
    SlippiConfig {
        core: CoreConfig {
            hidden_size: 48,
            num_layers: 2,
            activation,
            gelu_approximate,
            layer_norm,
            ..base.core
        },
        head: HeadConfig {
            residual_size: 24,
            component_depth: 2,
        },
        tech_mask: false,
        ..base
    }
}

fn model(config: SlippiConfig, seed: u64) -> SlippiModel {
    let tensors: HashMap<String, Tensor> = weights::random_tensors(&config, seed)
        .into_iter()
        .map(|(name, t)| {
            let tensor = Tensor::from_vec(t.values, t.shape, &Device::Cpu).unwrap();
            (name, tensor)
        })
        .collect();
    SlippiModel::from_tensors(config, tensors).unwrap()
}

/// Inputs as the featurizer makes them: mostly zeros, some ones, a few
/// scaled floats.
fn features(rng: &mut StdRng, rows: usize, width: usize) -> Tensor {
    let values: Vec<f32> = (0..rows * width)
        .map(|_| match rng.random_range(0..10) {
            0..=6 => 0.0,
            7 | 8 => 1.0,
            _ => rng.random_range(-2.0f32..2.0),
        })
        .collect();
    Tensor::from_vec(values, (rows, width), &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes");
    for (k, (g, w)) in values(got).iter().zip(values(want)).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{what}: value {k} is {g}, candle says {w}"
        );
    }
}

const VARIANTS: [(LayerNormKind, Activation, bool); 4] = [
    (LayerNormKind::Nnx, Activation::Gelu, true),
    (LayerNormKind::Tensorflow, Activation::Gelu, false),
    (LayerNormKind::Nnx, Activation::Relu, false),
    (LayerNormKind::Tensorflow, Activation::Tanh, false),
];

#[test]
fn the_core_rows_path_equals_the_tensor_path() {
    for (v, (layer_norm, activation, approx)) in VARIANTS.into_iter().enumerate() {
        let model = model(config(layer_norm, activation, approx), v as u64);
        let core = model.core();
        let width = model.featurizer().size();
        let mut rng = StdRng::seed_from_u64(v as u64);
        for rows in [1, 3, 9] {
            let mut by_rows = core.zero_state(rows, &Device::Cpu).unwrap();
            let mut by_tensors = by_rows.clone();
            for t in 0..30 {
                let x = features(&mut rng, rows, width);
                let (out_r, next_r) = core.step_rows(&x, &by_rows).unwrap();
                let (out_t, next_t) = core.step_tensors(&x, &by_tensors).unwrap();
                let what = format!("{layer_norm:?}/{activation:?} batch {rows} step {t}");
                assert_close(&out_r, &out_t, &format!("{what}: output"));
                for (k, (r, t)) in next_r.iter().zip(&next_t).enumerate() {
                    assert_close(r, t, &format!("{what}: state {k}"));
                }
                (by_rows, by_tensors) = (next_r, next_t);
            }
            // The state moved: the comparison was not between zeros.
            assert!(values(&by_rows[1]).iter().any(|v| v.abs() > 1e-3));
        }
    }
}

#[test]
fn the_head_rows_path_equals_the_tensor_path() {
    for (v, (layer_norm, activation, approx)) in VARIANTS.into_iter().enumerate() {
        let model = model(config(layer_norm, activation, approx), 10 + v as u64);
        let hidden = model.core().hidden_size();
        let mut rng = StdRng::seed_from_u64(v as u64);
        for rows in [1, 3, 9] {
            for t in 0..10 {
                let out = Tensor::rand(-1f32, 1f32, (rows, hidden), &Device::Cpu).unwrap();
                let prev: Vec<ControllerClasses> = (0..rows)
                    .map(|_| {
                        let mut c = ControllerClasses::default();
                        for (k, slot) in c.0.iter_mut().enumerate() {
                            *slot = rng.random_range(0..model.head().space().width(k)) as u8;
                        }
                        c
                    })
                    .collect();
                // Choose the class the logits favour, so both paths choose
                // from their own logits and a drift would show.
                let argmax = |_: usize, _: usize, logits: &[f32]| {
                    if logits.len() == 1 {
                        (logits[0] > 0.0) as u8
                    } else {
                        let best = logits
                            .iter()
                            .enumerate()
                            .max_by(|a, b| a.1.total_cmp(b.1))
                            .unwrap();
                        best.0 as u8
                    }
                };
                let by_rows = model.head().run_rows(&out, &prev, true, argmax).unwrap();
                let by_tensors = model.head().run_tensors(&out, &prev, true, argmax).unwrap();
                let what = format!("{layer_norm:?}/{activation:?} batch {rows} pass {t}");
                assert_eq!(by_rows.controllers, by_tensors.controllers, "{what}");
                for (row, (r, c)) in by_rows.logits.iter().zip(&by_tensors.logits).enumerate() {
                    for (k, (r, c)) in r.iter().zip(c).enumerate() {
                        for (g, w) in r.iter().zip(c) {
                            assert!(
                                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                                "{what}: row {row} component {k}: {g} vs candle {w}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A model served from f16 weights (`weight_precision`) follows the f32
/// model closely for 30 steps with the state carried, and is not the f32
/// model: the rounding reached the kernels.
#[test]
fn f16_weights_stay_close_to_f32() {
    use fourstock_slippi::config::Precision;
    let f32_config = config(LayerNormKind::Nnx, Activation::Gelu, true);
    let f16_config = SlippiConfig {
        weight_precision: Precision::F16,
        ..f32_config.clone()
    };
    let (exact, rounded) = (model(f32_config, 3), model(f16_config, 3));
    let width = exact.featurizer().size();
    let mut rng = StdRng::seed_from_u64(3);
    let mut state = exact.core().zero_state(4, &Device::Cpu).unwrap();
    let mut state16 = state.clone();
    let mut largest = 0f32;
    for t in 0..30 {
        let x = features(&mut rng, 4, width);
        let (out, next) = exact.core().step_rows(&x, &state).unwrap();
        let (out16, next16) = rounded.core().step_rows(&x, &state16).unwrap();
        for (g, w) in values(&out16).iter().zip(values(&out)) {
            let off = (g - w).abs() / w.abs().max(1.0);
            assert!(off <= 1e-2, "step {t}: f16 gives {g}, f32 {w}");
            largest = largest.max(off);
        }
        (state, state16) = (next, next16);
    }
    assert!(largest > 0.0, "f16 weights changed nothing");
}
