//! The per-step cost of a model as the daemon pays it: `Policy::step` at
//! batch 1 on the frames of a real replay, one thread per matmul.
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p fourstock-train --example step_cost -- MODEL REPLAY`

use std::time::Instant;

use fourstock_policy::{Policy, StepRequest};
use fourstock_recurrent::RecurrentPolicy;

fn main() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(replay)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: step_cost MODEL_DIR REPLAY.slp");
        std::process::exit(2);
    };
    let policy = RecurrentPolicy::load(model.as_ref()).expect("load the model");
    let replay = fourstock_replay::read_replay(replay).expect("read the replay");
    let port = replay.summary.players[0].port;
    let frames: Vec<_> = replay.frames().collect();
    let mut state = policy.initial_state(0);
    let mut micros = Vec::with_capacity(frames.len());
    for frame in frames.iter().cycle().take(frames.len().max(5000)) {
        let start = Instant::now();
        let mut batch = [StepRequest {
            frame,
            port,
            state: &mut state,
        }];
        policy.step(&mut batch).expect("step");
        micros.push(start.elapsed().as_secs_f64() * 1e6);
    }
    micros.drain(..500.min(micros.len() / 10)); // warm-up
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() - 1) as f64 * q) as usize];
    println!(
        "{}: {} steps at batch 1: median {:.1} us, p99 {:.1} us, max {:.1} us",
        policy.config().name,
        micros.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}
