//! The candle core's entry points agree with its step: the sparse input
//! projection, the unrolled sequence, and a training core built from a
//! `VarMap` (whose names are the checkpoint's and whose layers see an
//! optimizer's updates). The serving step against this core is
//! `tests/serving.rs`.

mod common;

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use fourstock_policy::Policy;
use fourstock_recurrent::checkpoint;
use fourstock_recurrent::core::{LayerWeights, RecurrentCore};
use fourstock_recurrent::featurizer::Featurizer;
use fourstock_recurrent::head::ControllerHead;
use fourstock_recurrent::{CellKind, RecurrentPolicy};

const CELLS: [CellKind; 2] = [CellKind::Lstm, CellKind::Gru];

fn serving_core(policy: &RecurrentPolicy) -> RecurrentCore {
    let t: HashMap<&str, &Tensor> = policy
        .tensors()
        .iter()
        .map(|(n, t)| (n.as_str(), t))
        .collect();
    let layers: Vec<LayerWeights> = (0..policy.config().hidden_sizes.len())
        .map(|k| LayerWeights {
            weight_ih: t[format!("core.weight_ih_l{k}").as_str()].clone(),
            weight_hh: t[format!("core.weight_hh_l{k}").as_str()].clone(),
            bias_ih: t[format!("core.bias_ih_l{k}").as_str()].clone(),
            bias_hh: t[format!("core.bias_hh_l{k}").as_str()].clone(),
        })
        .collect();
    RecurrentCore::new(policy.config().cell, &layers).unwrap()
}

fn max_difference(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// Rows of features: real frames, plus a row of arbitrary dense values.
fn feature_rows(width: usize) -> Vec<f32> {
    let f = Featurizer::new(&common::config("x", CellKind::Lstm, vec![1]).features);
    assert_eq!(f.size(), width);
    let mut rows = vec![0f32; 3 * width];
    f.write(&common::frame(4), 1, &mut rows[..width]).unwrap();
    f.write(&common::frame(9), 2, &mut rows[width..2 * width])
        .unwrap();
    for (j, v) in rows[2 * width..].iter_mut().enumerate() {
        *v = ((j * 7919) % 13) as f32 * 0.25 - 1.5;
    }
    rows
}

#[test]
fn the_sparse_projection_steps_like_the_dense_one() {
    for cell in CELLS {
        let policy =
            RecurrentPolicy::initialize(common::config("s", cell, vec![20, 10]), 2).unwrap();
        let core = serving_core(&policy);
        let width = core.input_size();
        let x = Tensor::from_vec(feature_rows(width), (3, width), &Device::Cpu).unwrap();
        let mut dense = core.zero_state(3, &Device::Cpu).unwrap();
        let mut sparse = dense.clone();
        for _ in 0..5 {
            let (top_dense, next_dense) = core.step(&x, &dense).unwrap();
            let projected = core
                .project_sparse(&x.flatten_all().unwrap().to_vec1().unwrap(), 3)
                .unwrap();
            let (top_sparse, next_sparse) = core.step_projected(&projected, &sparse).unwrap();
            assert!(max_difference(&top_dense, &top_sparse) < 1e-5, "{cell:?}");
            for (a, b) in next_dense.iter().zip(&next_sparse) {
                assert!(max_difference(a, b) < 1e-5, "{cell:?}");
            }
            (dense, sparse) = (next_dense, next_sparse);
        }
        assert!(core.project_sparse(&[0.0; 5], 1).is_err(), "wrong width");
    }
}

#[test]
fn a_sequence_equals_its_steps() {
    for cell in CELLS {
        let policy =
            RecurrentPolicy::initialize(common::config("q", cell, vec![16, 12]), 8).unwrap();
        let core = serving_core(&policy);
        let width = core.input_size();
        let rows = feature_rows(width);
        // T = 6 steps of a batch of 2 rows, each step a different mix.
        let steps: Vec<Tensor> = (0..6)
            .map(|t| {
                let a = &rows[(t % 3) * width..][..width];
                let b = &rows[((t + 1) % 3) * width..][..width];
                Tensor::from_vec([a, b].concat(), (2, width), &Device::Cpu).unwrap()
            })
            .collect();
        let start = core.zero_state(2, &Device::Cpu).unwrap();
        let mut state = start.clone();
        let mut tops = Vec::new();
        for x in &steps {
            let (top, next) = core.step(x, &state).unwrap();
            tops.push(top);
            state = next;
        }
        let xs = Tensor::stack(&steps, 0).unwrap();
        let (seq_tops, seq_state) = core.sequence(&xs, &start).unwrap();
        assert_eq!(seq_tops.dims(), &[6, 2, 12]);
        let stepped = Tensor::stack(&tops, 0).unwrap();
        assert!(max_difference(&seq_tops, &stepped) < 1e-5, "{cell:?}");
        for (a, b) in seq_state.iter().zip(&state) {
            assert!(max_difference(a, b) < 1e-5, "{cell:?}");
        }
    }
}

#[test]
fn a_training_core_uses_checkpoint_names_and_sees_its_updates() {
    for cell in CELLS {
        let config = common::config("v", cell, vec![10, 6]);
        let input = Featurizer::new(&config.features).size();
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &Device::Cpu);
        let core =
            RecurrentCore::from_var_builder(cell, input, &config.hidden_sizes, vb.pp("core"))
                .unwrap();
        let head = ControllerHead::from_var_builder(6, vb.pp("head")).unwrap();

        // The variables are exactly the checkpoint's tensors.
        let mut names: Vec<String> = map.data().lock().unwrap().keys().cloned().collect();
        names.sort();
        let mut expected: Vec<String> = checkpoint::expected_tensors(&config, input)
            .into_iter()
            .map(|(name, shape)| {
                assert_eq!(map.data().lock().unwrap()[&name].dims(), shape.as_slice());
                name
            })
            .collect();
        expected.sort();
        assert_eq!(names, expected);

        // A policy served from the same tensors computes the same step.
        let tensors: HashMap<String, Tensor> = map
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_tensor().copy().unwrap()))
            .collect();
        let serving = RecurrentPolicy::from_tensors(config.clone(), tensors).unwrap();
        let rows = feature_rows(input);
        let x = Tensor::from_vec(rows[..2 * input].to_vec(), (2, input), &Device::Cpu).unwrap();
        // Two steps, so that the recurrent weights matter.
        let logits = |core: &RecurrentCore, head: &ControllerHead| {
            let state = core.zero_state(2, &Device::Cpu).unwrap();
            let (_, state) = core.step(&x, &state).unwrap();
            let (top, _) = core.step(&x, &state).unwrap();
            head.logits(&top).unwrap()
        };
        let before = logits(&core, &head);
        let mut state = serving.initial_state(0);
        let frame = common::frame(4);
        let mut served = None;
        for _ in 0..2 {
            let mut one = [fourstock_policy::StepRequest {
                frame: &frame,
                port: 1,
                state: &mut state,
            }];
            served = Some(serving.step_logits(&mut one).unwrap());
        }
        let served = served.unwrap();
        assert!(max_difference(&before.narrow(0, 0, 1).unwrap(), &served) < 1e-5);

        // Gradients reach every variable, and a step of SGD changes what
        // the same core computes: it holds views, not copies.
        let loss = before.sqr().unwrap().sum_all().unwrap();
        let grads = loss.backward().unwrap();
        for var in map.all_vars() {
            let g = grads.get(var.as_tensor()).expect("a gradient");
            let norm = g
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "{cell:?}: a variable got a zero gradient");
        }
        let mut sgd = candle_nn::SGD::new(map.all_vars(), 1e-3).unwrap();
        sgd.step(&grads).unwrap();
        let after = logits(&core, &head);
        let fresh_core =
            RecurrentCore::from_var_builder(cell, input, &config.hidden_sizes, vb.pp("core"))
                .unwrap();
        let fresh_head = ControllerHead::from_var_builder(6, vb.pp("head")).unwrap();
        assert!(
            max_difference(&after, &logits(&fresh_core, &fresh_head)) < 1e-6,
            "{cell:?}: the old core computes what a core built after the update does"
        );
        let loss_after = after
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            loss_after < loss.to_scalar::<f32>().unwrap(),
            "{cell:?}: the update is seen and lowers the loss"
        );
    }
}
