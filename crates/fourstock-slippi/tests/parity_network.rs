//! The core and the autoregressive head against slippi-ai's own outputs
//! (`golden.jsonl`), step by step with the recurrent state carried over:
//! 1200 steps of the shipped jax_demo checkpoint, and 600 steps of each
//! synthetic policy (hidden 32, 2 layers, residual 16, component depth 1;
//! flax LayerNorm with tanh GELU, and TF LayerNorm with exact GELU).
//!
//! The head runs under teacher forcing: each component is conditioned on
//! the recorded target of the ones before it, as slippi-ai scored it.

mod common;

use std::path::Path;

use fourstock_slippi::controller::{ControllerSpace, COMPONENTS, COMPONENT_NAMES};
use fourstock_slippi::sampling;
use fourstock_slippi::SlippiModel;

const TOLERANCE: f64 = 1e-5;

struct Report {
    core: common::MaxError,
    state: common::MaxError,
    logits: common::MaxError,
    neg_log_prob: common::MaxError,
}

/// Runs `steps` steps of the model in `model_dir` over the top-level
/// frames and compares with `model_dir/golden.jsonl`.
fn run_parity(parity: &Path, model_dir: &Path, steps: usize) -> Report {
    let model = SlippiModel::load_converted(model_dir).unwrap();
    let frames = common::frames(parity);
    let golden: Vec<common::GoldenLine> = common::read_jsonl(&model_dir.join("golden.jsonl"));
    assert_eq!(
        golden.len(),
        steps,
        "golden steps in {}",
        model_dir.display()
    );
    let core = model.core();
    let mut state = core.zero_state(1, &candle_core::Device::Cpu).unwrap();
    let mut report = Report {
        core: Default::default(),
        state: Default::default(),
        logits: Default::default(),
        neg_log_prob: Default::default(),
    };
    for (frame, gold) in frames.iter().zip(&golden) {
        let t = frame.t;
        assert_eq!(gold.t, t);
        let prev = frame.prev_action();
        assert_eq!(prev, common::classes(&gold.prev_action_encoded), "t={t}");
        let target = common::classes(&gold.target_action_encoded);

        let x = model
            .embed(&[(frame.observation(), prev, Some(frame.name_code))])
            .unwrap();
        let (out, next) = core.step(&x, &state).unwrap();
        state = next;
        let out_row = out.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        report
            .core
            .update(&out_row, &gold.core_output, || format!("t={t} core_output"));
        assert_eq!(gold.hidden_state_after.len(), state.len());
        for leaf in &gold.hidden_state_after {
            // "layers[2k+1].lstm.c" is layer k's c, our state[2k]; h follows.
            let index: usize = leaf.name["layers[".len()..leaf.name.find(']').unwrap()]
                .parse()
                .unwrap();
            let k = (index - 1) / 2;
            let slot = 2 * k + if leaf.name.ends_with(".h") { 1 } else { 0 };
            let got = state[slot].flatten_all().unwrap().to_vec1::<f32>().unwrap();
            report
                .state
                .update(&got, &leaf.values, || format!("t={t} {}", leaf.name));
        }

        let head = model
            .head()
            .run(&out, &[prev], true, |_, k, _| target.0[k])
            .unwrap();
        assert_eq!(head.controllers[0], target);
        assert_eq!(gold.head.len(), COMPONENTS);
        let mut total = 0.0;
        for (k, entry) in gold.head.iter().enumerate() {
            assert_eq!(entry.component, COMPONENT_NAMES[k]);
            let logits = &head.logits[0][k];
            report.logits.update(logits, &entry.logits, || {
                format!("t={t} {}", entry.component)
            });
            let nlp = sampling::neg_log_prob(logits, ControllerSpace::is_button(k), target.0[k]);
            total += nlp;
            report
                .neg_log_prob
                .update(&[nlp as f32], &[entry.neg_log_prob], || {
                    format!("t={t} {} neg_log_prob", entry.component)
                });
        }
        report
            .neg_log_prob
            .update(&[total as f32], &[gold.total_neg_log_prob], || {
                format!("t={t} total_neg_log_prob")
            });
    }
    report
}

fn check(name: &str, report: Report) {
    println!(
        "{name}: max abs error core {:.2e} ({}), lstm c/h {:.2e} ({}), logits {:.2e} ({}), \
         neg_log_prob {:.2e} ({})",
        report.core.value,
        report.core.at,
        report.state.value,
        report.state.at,
        report.logits.value,
        report.logits.at,
        report.neg_log_prob.value,
        report.neg_log_prob.at,
    );
    assert!(
        report.core.value <= TOLERANCE,
        "{name} core: {:?}",
        report.core
    );
    assert!(
        report.state.value <= TOLERANCE,
        "{name} state: {:?}",
        report.state
    );
    assert!(
        report.logits.value <= TOLERANCE,
        "{name} logits: {:?}",
        report.logits
    );
    // neg_log_prob is a derived check; f32 logits through f64 math.
    assert!(
        report.neg_log_prob.value <= 1e-4,
        "{name} neg_log_prob: {:?}",
        report.neg_log_prob
    );
}

#[test]
fn jax_demo_matches_slippi_ai_for_1200_steps() {
    let Some(dir) = common::parity_dir("jax_demo_matches_slippi_ai_for_1200_steps") else {
        return;
    };
    check("jax_demo", run_parity(&dir, &dir, 1200));
}

#[test]
fn synthetic_flax_policy_matches_slippi_ai_for_600_steps() {
    let Some(dir) = common::parity_dir("synthetic_flax_policy_matches_slippi_ai_for_600_steps")
    else {
        return;
    };
    let model_dir = dir.join("synthetic_nnx");
    check("synthetic_nnx", run_parity(&dir, &model_dir, 600));
}

#[test]
fn synthetic_tensorflow_policy_matches_slippi_ai_for_600_steps() {
    let Some(dir) =
        common::parity_dir("synthetic_tensorflow_policy_matches_slippi_ai_for_600_steps")
    else {
        return;
    };
    let model_dir = dir.join("synthetic_tf");
    let model = SlippiModel::load_converted(&model_dir).unwrap();
    assert_eq!(
        model.config().core.layer_norm,
        fourstock_slippi::config::LayerNormKind::Tensorflow
    );
    assert!(!model.config().core.gelu_approximate);
    check("synthetic_tf", run_parity(&dir, &model_dir, 600));
}
