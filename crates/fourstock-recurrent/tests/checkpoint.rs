//! Checkpoints: save and load round trip, and every malformed file is a
//! clear error, never a panic.

mod common;

use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};

use fourstock_nn::WeightsError;

/// The weight-file error inside a checkpoint error, if it is one.
fn weights_error(e: &CheckpointError) -> Option<&WeightsError> {
    match e {
        CheckpointError::Weights(w) => Some(w),
        _ => None,
    }
}
use fourstock_policy::{Policy, StepRequest};
use fourstock_recurrent::checkpoint::{self, CheckpointError};
use fourstock_recurrent::{CellKind, RecurrentPolicy};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fourstock-ckpt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn saved(name: &str, cell: CellKind) -> (RecurrentPolicy, PathBuf) {
    let policy = RecurrentPolicy::initialize(common::config(name, cell, vec![16, 8]), 3).unwrap();
    let dir = scratch(name);
    policy.save(&dir).unwrap();
    (policy, dir)
}

fn outputs(
    policy: &RecurrentPolicy,
    frames: std::ops::Range<i32>,
) -> Vec<fourstock_proto::ControllerState> {
    let mut state = policy.initial_state(9);
    frames
        .map(|n| {
            let frame = common::frame(n);
            let mut one = [StepRequest {
                frame: &frame,
                port: 1,
                state: &mut state,
            }];
            policy.step(&mut one).unwrap()[0]
        })
        .collect()
}

/// Rewrites the checkpoint's tensors through `edit` and loads it.
fn load_edited(
    name: &str,
    edit: impl FnOnce(&mut Vec<(String, candle_core::Tensor)>),
) -> CheckpointError {
    let (policy, dir) = saved(name, CellKind::Lstm);
    let mut tensors = policy.tensors().to_vec();
    edit(&mut tensors);
    checkpoint::write(&dir, policy.config(), &tensors).unwrap();
    RecurrentPolicy::load(&dir)
        .err()
        .expect("the edited checkpoint is refused")
}

#[test]
fn save_then_load_plays_identically() {
    for cell in [CellKind::Lstm, CellKind::Gru] {
        let (policy, dir) = saved(&format!("round-{cell:?}"), cell);
        let loaded = RecurrentPolicy::load(&dir).unwrap();
        assert_eq!(loaded.config(), policy.config());
        assert_eq!(outputs(&policy, 0..40), outputs(&loaded, 0..40));
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (_, a) = saved("seed-a", CellKind::Gru);
    let (_, b) = saved("seed-b", CellKind::Gru);
    let read = |d: &Path| std::fs::read(d.join(checkpoint::WEIGHTS_FILE)).unwrap();
    assert_eq!(read(&a), read(&b));
}

#[test]
fn a_missing_tensor_is_named_with_its_shape() {
    let e = load_edited("missing", |t| t.retain(|(n, _)| n != "core.weight_hh_l1"));
    let text = e.to_string();
    assert!(
        matches!(weights_error(&e), Some(WeightsError::Missing { .. })),
        "{text}"
    );
    assert!(
        text.contains("core.weight_hh_l1") && text.contains("[32, 8]"),
        "{text}"
    );
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    let e = load_edited("shape", |t| {
        let (_, w) = t.iter_mut().find(|(n, _)| n == "head.weight").unwrap();
        *w =
            candle_core::Tensor::zeros((81, 9), candle_core::DType::F32, &candle_core::Device::Cpu)
                .unwrap();
    });
    let text = e.to_string();
    assert!(
        matches!(weights_error(&e), Some(WeightsError::Shape { .. })),
        "{text}"
    );
    assert!(
        text.contains("head.weight") && text.contains("[81, 9]") && text.contains("[81, 8]"),
        "{text}"
    );
}

#[test]
fn extra_and_non_finite_tensors_are_refused() {
    let e = load_edited("extra", |t| {
        let bias = t[0].1.clone();
        t.push(("core.weight_ih_l7".into(), bias));
    });
    assert!(
        matches!(weights_error(&e), Some(WeightsError::Unexpected { name, .. }) if name == "core.weight_ih_l7"),
        "{e}"
    );

    let e = load_edited("nan", |t| {
        let (_, b) = t.iter_mut().find(|(n, _)| n == "head.bias").unwrap();
        let mut v = b.to_vec1::<f32>().unwrap();
        v[3] = f32::NAN;
        *b = candle_core::Tensor::new(v, &candle_core::Device::Cpu).unwrap();
    });
    assert!(
        matches!(weights_error(&e), Some(WeightsError::NonFinite { name, .. }) if name == "head.bias"),
        "{e}"
    );
}

#[test]
fn garbage_truncated_and_missing_files_are_errors() {
    let (_, dir) = saved("garbage", CellKind::Lstm);
    let weights = dir.join(checkpoint::WEIGHTS_FILE);
    let good = std::fs::read(&weights).unwrap();
    for bytes in [
        good[..good.len() / 2].to_vec(),
        good[..7].to_vec(),
        vec![],
        b"\xff\xff\xff\xff\xff\xff\xff\x7f{not json".to_vec(),
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
    ] {
        std::fs::write(&weights, &bytes).unwrap();
        let e = RecurrentPolicy::load(&dir).err().expect("refused");
        assert!(
            matches!(weights_error(&e), Some(WeightsError::Format { .. })),
            "{e}"
        );
        assert!(e.to_string().contains("model.safetensors"), "{e}");
    }
    std::fs::remove_file(&weights).unwrap();
    let e = RecurrentPolicy::load(&dir).err().expect("refused");
    assert!(
        matches!(weights_error(&e), Some(WeightsError::Io { .. })),
        "{e}"
    );
}

#[test]
fn bad_configs_are_errors() {
    let (_, dir) = saved("config", CellKind::Lstm);
    let config = dir.join(checkpoint::CONFIG_FILE);
    let good = std::fs::read_to_string(&config).unwrap();
    for (bad, needle) in [
        ("{".to_string(), "bad config"),
        (good.replace("\"lstm\"", "\"transformer\""), "transformer"),
        (
            good.replace(
                "\"hidden_sizes\": [\n    16,\n    8\n  ]",
                "\"hidden_sizes\": []",
            ),
            "hidden_sizes is empty",
        ),
        (
            good.replace(
                "\"hidden_sizes\": [\n    16,\n    8\n  ]",
                "\"hidden_sizes\": [16, 999999999]",
            ),
            "outside",
        ),
    ] {
        std::fs::write(&config, &bad).unwrap();
        let e = RecurrentPolicy::load(&dir).err().expect("refused");
        assert!(matches!(e, CheckpointError::Config { .. }), "{e}");
        assert!(
            e.to_string().contains(needle),
            "{e} should mention {needle}"
        );
    }
}

/// Saves `policy`'s weights into `dir` converted to `dtype`, but
/// `odd_one` converted to `odd_dtype`.
fn save_as(
    dir: &Path,
    policy: &RecurrentPolicy,
    dtype: DType,
    odd_one: &str,
    odd_dtype: DType,
) -> Vec<(String, Tensor)> {
    let converted: Vec<(String, Tensor)> = policy
        .tensors()
        .iter()
        .map(|(name, t)| {
            let to = if name == odd_one { odd_dtype } else { dtype };
            (name.clone(), t.to_dtype(to).unwrap())
        })
        .collect();
    let map: std::collections::HashMap<_, _> = converted.iter().cloned().collect();
    candle_core::safetensors::save(&map, dir.join(checkpoint::WEIGHTS_FILE)).unwrap();
    converted
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_dtype(DType::F32)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

#[test]
fn a_wrong_dtype_is_named_and_f16_bf16_f64_are_converted() {
    let (policy, dir) = saved("dtype", CellKind::Gru);
    save_as(&dir, &policy, DType::F32, "core.bias_hh_l1", DType::U32);
    let e = RecurrentPolicy::load(&dir).err().expect("refused");
    let text = e.to_string();
    assert!(
        matches!(weights_error(&e), Some(WeightsError::DType { .. })),
        "{text}"
    );
    assert!(
        text.contains("core.bias_hh_l1") && text.contains("U32") && text.contains("F32"),
        "{text}"
    );

    // Each float type loads as its own values in f32; F64 holds every f32
    // exactly, so that is the same policy.
    for dtype in [DType::F64, DType::F16, DType::BF16] {
        let written = save_as(&dir, &policy, dtype, "", dtype);
        let loaded = RecurrentPolicy::load(&dir).unwrap();
        for ((name, a), (_, b)) in loaded.tensors().iter().zip(&written) {
            assert_eq!(values(a), values(b), "{dtype:?} {name}");
        }
    }
    assert_eq!(outputs(&policy, 0..20), {
        save_as(&dir, &policy, DType::F64, "", DType::F64);
        outputs(&RecurrentPolicy::load(&dir).unwrap(), 0..20)
    });
}

#[test]
fn a_state_from_another_policy_is_an_error_not_a_panic() {
    let lstm =
        RecurrentPolicy::initialize(common::config("a", CellKind::Lstm, vec![8, 4]), 1).unwrap();
    let gru =
        RecurrentPolicy::initialize(common::config("b", CellKind::Gru, vec![8, 4]), 1).unwrap();
    let frame = common::frame(0);
    let mut foreign = gru.initial_state(0);
    let mut mine = lstm.initial_state(0);
    let mut batch = [
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
    let e = lstm.step(&mut batch).expect_err("refused");
    assert!(
        matches!(
            e,
            fourstock_policy::PolicyError::ForeignState { port: 2, .. }
        ),
        "{e}"
    );
    assert!(lstm.step(&mut []).unwrap().is_empty());
}
