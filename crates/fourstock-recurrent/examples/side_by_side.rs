//! fourstock's half of `benches/onnx_side_by_side.py`: steps a model from
//! ready-made features and times every step.
//!
//! `side_by_side MODEL_DIR FEATURES BATCH STEPS LOGITS_OUT`
//!
//! FEATURES holds STEPS x BATCH rows of the model's input width as f32
//! little-endian. Every step's logits (STEPS x BATCH x 81, f32 LE) go to
//! LOGITS_OUT; one JSON line of timings goes to stdout. States start at zero.

use std::path::Path;
use std::time::Instant;

use fourstock_policy::{Policy, PolicyState};
use fourstock_recurrent::RecurrentPolicy;

fn main() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: side_by_side MODEL_DIR FEATURES BATCH STEPS LOGITS_OUT");
        std::process::exit(2);
    }
    let policy = RecurrentPolicy::load(Path::new(&args[1])).expect("load the model");
    let batch: usize = args[3].parse().expect("BATCH");
    let steps: usize = args[4].parse().expect("STEPS");
    let width = policy.featurizer().size();
    let bytes = std::fs::read(&args[2]).expect("read FEATURES");
    let features: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    assert_eq!(features.len(), steps * batch * width, "FEATURES size");
    let mut states: Vec<PolicyState> = (0..batch).map(|i| policy.initial_state(i as u64)).collect();
    let ports = vec![1u8; batch];
    let mut logits = Vec::with_capacity(steps * batch * 81);
    let mut times_us = Vec::with_capacity(steps);
    for step in 0..steps {
        let rows = &features[step * batch * width..(step + 1) * batch * width];
        let mut refs: Vec<&mut PolicyState> = states.iter_mut().collect();
        let start = Instant::now();
        let out = policy
            .step_features(rows, &ports, &mut refs)
            .expect("a step")
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .expect("logits");
        times_us.push(start.elapsed().as_secs_f64() * 1e6);
        logits.extend(out);
    }
    let out: Vec<u8> = logits.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&args[5], out).expect("write LOGITS_OUT");
    // The first tenth is warm-up.
    let mut timed = times_us[steps / 10..].to_vec();
    timed.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| timed[((timed.len() - 1) as f64 * q) as usize];
    println!(
        "{{\"median_us\": {:.2}, \"p99_us\": {:.2}, \"batch\": {batch}, \"steps\": {steps}}}",
        at(0.5),
        at(0.99)
    );
}
