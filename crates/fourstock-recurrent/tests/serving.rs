//! The serving step (`ServingNet`: sparse features, the packed kernel,
//! buffers reused between steps) against candle's tensor core and head on
//! the same weights: the same logits and states within 1e-5, step after
//! carried step, for both cells, odd widths, and batches that fill and
//! overflow one chunk of the small-batch kernel.

mod common;

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use fourstock_nn::kernel::SMALL_BATCH;
use fourstock_policy::{Policy, PolicyError, PolicyState, StepRequest};
use fourstock_proto::Frame;
use fourstock_recurrent::core::{LayerWeights, RecurrentCore};
use fourstock_recurrent::featurizer::Featurizer;
use fourstock_recurrent::head::{self, ControllerHead};
use fourstock_recurrent::{CellKind, RecurrentPolicy};

const CELLS: [CellKind; 2] = [CellKind::Lstm, CellKind::Gru];

/// candle's core and head on the policy's own weights.
fn reference(policy: &RecurrentPolicy) -> (RecurrentCore, ControllerHead) {
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
    let core = RecurrentCore::new(policy.config().cell, &layers).unwrap();
    let head = ControllerHead::new(t["head.weight"], t["head.bias"]).unwrap();
    (core, head)
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5,
            "{what}: value {k} is {g}, candle says {w}"
        );
    }
}

/// Row r of step t: a frame of its own, seen from port 1 or 2.
fn row_frame(t: i32, r: usize) -> (Frame, u8) {
    (common::frame(t * 5 + r as i32 * 13 - 60), 1 + (r % 2) as u8)
}

#[test]
fn the_serving_step_equals_candle_over_carried_steps() {
    for cell in CELLS {
        // Odd widths: panels of 16 columns end ragged.
        let policy =
            RecurrentPolicy::initialize(common::config("s", cell, vec![37, 21]), 3).unwrap();
        let (core, head) = reference(&policy);
        let featurizer = Featurizer::new(&policy.config().features);
        let width = featurizer.size();
        for batch in [1, 3, SMALL_BATCH, SMALL_BATCH + 5] {
            let mut states: Vec<PolicyState> =
                (0..batch as u64).map(|i| policy.initial_state(i)).collect();
            let mut by_candle = core.zero_state(batch, &Device::Cpu).unwrap();
            for t in 0..20 {
                let frames: Vec<(Frame, u8)> = (0..batch).map(|r| row_frame(t, r)).collect();
                let served = policy
                    .step_logits(&mut requests(&frames, &mut states))
                    .unwrap();

                let mut dense = vec![0f32; batch * width];
                for ((frame, port), row) in frames.iter().zip(dense.chunks_mut(width)) {
                    featurizer.write(frame, *port, row).unwrap();
                }
                let x = Tensor::from_vec(dense, (batch, width), &Device::Cpu).unwrap();
                let (top, next) = core.step(&x, &by_candle).unwrap();
                let want = head.logits(&top).unwrap();

                let what = format!("{cell:?} batch {batch} step {t}");
                assert_eq!(served.dims(), want.dims(), "{what}");
                assert_close(&values(&served), &values(&want), &format!("{what}: logits"));
                for (k, tensor) in next.iter().enumerate() {
                    for (r, state) in states.iter().enumerate() {
                        let mine = &state.tensors[k];
                        assert_eq!(mine.dims()[0], 1, "{what}: a state is one row");
                        assert_close(
                            &values(mine),
                            &values(&tensor.narrow(0, r, 1).unwrap()),
                            &format!("{what}: state {k} row {r}"),
                        );
                    }
                }
                by_candle = next;
            }
            let moved = values(&states[0].tensors[0]);
            assert!(moved.iter().any(|v| v.abs() > 1e-2), "the state moved");
        }
    }
}

/// One request per row, pairing each frame with its state.
fn requests<'a>(frames: &'a [(Frame, u8)], states: &'a mut [PolicyState]) -> Vec<StepRequest<'a>> {
    frames
        .iter()
        .zip(states.iter_mut())
        .map(|((frame, port), state)| StepRequest {
            frame,
            port: *port,
            state,
        })
        .collect()
}

#[test]
fn ready_made_features_and_frames_step_alike_and_decode_alike() {
    for cell in CELLS {
        let policy =
            RecurrentPolicy::initialize(common::config("f", cell, vec![24, 16]), 5).unwrap();
        let featurizer = Featurizer::new(&policy.config().features);
        let width = featurizer.size();
        let mut from_frames: Vec<PolicyState> = (0..4).map(|i| policy.initial_state(i)).collect();
        let mut from_features: Vec<PolicyState> = (0..4).map(|i| policy.initial_state(i)).collect();
        let mut decoded: Vec<PolicyState> = (0..4).map(|i| policy.initial_state(i)).collect();
        for t in 0..6 {
            let frames: Vec<(Frame, u8)> = (0..4).map(|r| row_frame(t, r)).collect();
            let logits = policy
                .step_logits(&mut requests(&frames, &mut from_frames))
                .unwrap();

            let mut dense = vec![0f32; 4 * width];
            for ((frame, port), row) in frames.iter().zip(dense.chunks_mut(width)) {
                featurizer.write(frame, *port, row).unwrap();
            }
            let ports: Vec<u8> = frames.iter().map(|(_, p)| *p).collect();
            let mut refs: Vec<&mut PolicyState> = from_features.iter_mut().collect();
            let same = policy.step_features(&dense, &ports, &mut refs).unwrap();
            assert_eq!(values(&logits), values(&same), "{cell:?} step {t}");

            let controllers = policy.step(&mut requests(&frames, &mut decoded)).unwrap();
            let rows = logits.to_vec2::<f32>().unwrap();
            for (r, (controller, row)) in controllers.iter().zip(&rows).enumerate() {
                let mut rng = policy.initial_state(r as u64).rng;
                let (frame, port) = &frames[r];
                let held = head::Decision::of(&frame.player(*port).unwrap().controller);
                let want = head::decode(row, &policy.config().decoding, &held, &mut rng);
                assert_eq!(*controller, want, "{cell:?} step {t} row {r}");
            }
        }
    }
}

#[test]
fn a_foreign_state_is_refused_and_nothing_moves() {
    let policy =
        RecurrentPolicy::initialize(common::config("a", CellKind::Lstm, vec![8, 8]), 1).unwrap();
    let other =
        RecurrentPolicy::initialize(common::config("b", CellKind::Gru, vec![8, 8]), 1).unwrap();
    let frame = common::frame(3);
    let mut mine = policy.initial_state(0);
    let mut foreign = other.initial_state(0);
    let before: Vec<Vec<f32>> = mine.tensors.iter().map(values).collect();
    let mut requests = [
        StepRequest {
            frame: &frame,
            port: 1,
            state: &mut mine,
        },
        StepRequest {
            frame: &frame,
            port: 2,
            state: &mut foreign,
        },
    ];
    match policy.step(&mut requests) {
        Err(PolicyError::ForeignState { model, port, .. }) => {
            assert_eq!((model.as_str(), port), ("a", 2));
        }
        other => panic!("expected a foreign-state refusal, got {other:?}"),
    }
    let after: Vec<Vec<f32>> = mine.tensors.iter().map(values).collect();
    assert_eq!(before, after, "the good row's state did not move");
    assert!(matches!(
        policy.step(&mut [StepRequest {
            frame: &frame,
            port: 4,
            state: &mut mine,
        }]),
        Err(PolicyError::MissingPort(4))
    ));
}
