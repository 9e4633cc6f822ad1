//! Importing slippi-ai's own checkpoint pickles with the restricted reader:
//! jax_demo.pkl becomes a model folder holding exactly slippi-ai's weights,
//! which `SlippiPolicy::load` serves with parity; tf_demo.pkl and damaged
//! files are refused with errors that say why.

// The parity data's readers, shared with the serving crate's tests.
#[path = "../../fourstock-slippi/tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Device;
use fourstock_policy::{model_dir, Policy};
use fourstock_slippi::{SlippiError, SlippiModel, SlippiPolicy};
use fourstock_slippi_import::import::MAX_CHECKPOINT_BYTES;
use fourstock_slippi_import::{import_checkpoint, ImportError};

/// A fresh scratch folder under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fourstock-slippi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tensors(path: &Path) -> HashMap<String, Vec<f32>> {
    candle_core::safetensors::load(path, &Device::Cpu)
        .unwrap()
        .into_iter()
        .map(|(name, t)| (name, t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect()
}

#[test]
fn jax_demo_imports_bit_for_bit_and_serves() {
    let Some(dir) = common::parity_dir("jax_demo_imports_bit_for_bit_and_serves") else {
        return;
    };
    let work = scratch("import");
    let out = work.join("jax-demo");
    let report = import_checkpoint(&dir.join("checkpoints/jax_demo.pkl"), &out).unwrap();
    assert_eq!(report.tensors, 74);
    assert_eq!(report.parameters, 1284);
    assert_eq!(report.config.name, "jax-demo");
    assert_eq!(report.config.delay, 0);
    assert_eq!(report.config.player_name.as_deref(), Some("Diamond Player"));
    assert_eq!(
        model_dir::family(&out).unwrap().as_deref(),
        Some(fourstock_slippi::config::FAMILY)
    );

    // The same weights as slippi-ai's own dump, bit for bit.
    let imported = tensors(&out.join("model.safetensors"));
    let reference = tensors(&dir.join("policy_weights.safetensors"));
    assert_eq!(imported.len(), reference.len());
    for (name, values) in &reference {
        let got = &imported[name];
        assert!(
            got.iter()
                .zip(values)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name} differs"
        );
    }
    // The same network config as the converted form.
    let converted = SlippiModel::load_converted(&dir).unwrap();
    let loaded = SlippiModel::load(&out).unwrap();
    assert_eq!(loaded.config().core, converted.config().core);
    assert_eq!(loaded.config().head, converted.config().head);
    assert_eq!(loaded.config().embed, converted.config().embed);
    assert_eq!(loaded.config().name_map, converted.config().name_map);
    assert_eq!(loaded.config().tech_mask, converted.config().tech_mask);

    // The imported model reproduces slippi-ai's core output.
    let policy = SlippiPolicy::load(&out).unwrap();
    let info = policy.info();
    assert_eq!(info.input_size, 1009);
    assert_eq!(info.hidden_sizes, vec![1]);
    assert!(!info.reset.stock_loss && info.reset.new_match);
    let frames = common::frames(&dir);
    let golden: Vec<common::GoldenLine> = common::read_jsonl(&dir.join("golden.jsonl"));
    let model = policy.model();
    let mut state = model.core().zero_state(1, &Device::Cpu).unwrap();
    let mut worst = common::MaxError::default();
    for (frame, gold) in frames.iter().zip(&golden) {
        let x = model
            .embed(&[(frame.observation(), frame.prev_action(), policy.name_code())])
            .unwrap();
        let (out, next) = model.core().step(&x, &state).unwrap();
        state = next;
        let row = out.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        worst.update(&row, &gold.core_output, || format!("t={}", frame.t));
    }
    println!(
        "imported jax_demo: core max abs error {:.2e} ({})",
        worst.value, worst.at
    );
    assert!(worst.value <= 1e-5);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn tensorflow_checkpoints_are_refused_by_name() {
    let Some(dir) = common::parity_dir("tensorflow_checkpoints_are_refused_by_name") else {
        return;
    };
    let work = scratch("tf");
    match import_checkpoint(&dir.join("checkpoints/tf_demo.pkl"), &work.join("tf")) {
        Err(ImportError::Slippi(SlippiError::Unsupported { what })) => {
            assert!(what.contains("TensorFlow"), "{what}");
        }
        other => panic!("expected Unsupported, got {other:?}"),
    }
    assert!(!work.join("tf/config.json").exists(), "nothing is written");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn damaged_checkpoints_are_errors() {
    let Some(dir) = common::parity_dir("damaged_checkpoints_are_errors") else {
        return;
    };
    let work = scratch("damaged");
    let bytes = std::fs::read(dir.join("checkpoints/jax_demo.pkl")).unwrap();
    // Cut short at many points, and with bytes flipped: never a panic,
    // never a model folder.
    for (i, cut) in (1..bytes.len()).step_by(997).enumerate() {
        let path = work.join(format!("cut{i}.pkl"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let out = work.join(format!("cut{i}"));
        assert!(import_checkpoint(&path, &out).is_err(), "cut at {cut}");
        assert!(!out.join("config.json").exists());
    }
    for (i, at) in (11..bytes.len()).step_by(1499).enumerate() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x5A;
        let path = work.join(format!("flip{i}.pkl"));
        std::fs::write(&path, &flipped).unwrap();
        // May import (a flipped weight byte is still a weight), must not panic.
        let _ = import_checkpoint(&path, &work.join(format!("flip{i}")));
    }
    match import_checkpoint(&work.join("absent.pkl"), &work.join("absent")) {
        Err(ImportError::Io { .. }) => {}
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_checkpoint_over_its_cap_is_refused_before_it_is_read() {
    let dir = scratch("big-pickle");
    let pickle = dir.join("huge.pkl");
    // Sparse: the length is in the metadata, no byte is written.
    std::fs::File::create(&pickle)
        .unwrap()
        .set_len(MAX_CHECKPOINT_BYTES + 1)
        .unwrap();
    let error = import_checkpoint(&pickle, &dir.join("out")).expect_err("oversized");
    assert!(matches!(error, ImportError::TooLarge(_)), "{error:?}");
    assert!(
        error.to_string().contains(&format!(
            "huge.pkl: the file is {} bytes, over the {MAX_CHECKPOINT_BYTES}-byte cap",
            MAX_CHECKPOINT_BYTES + 1
        )),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
