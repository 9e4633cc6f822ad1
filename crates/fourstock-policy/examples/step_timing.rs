//! Times `Policy::step` of an untrained 2-layer, 256-wide LSTM and GRU at a
//! few batch sizes. Run it with candle's thread count pinned, as the daemon
//! pins it:
//!
//! `RAYON_NUM_THREADS=1 cargo run --release -p fourstock-policy --example step_timing`

use std::time::Instant;

use fourstock_policy::{
    CellKind, FeatureConfig, Policy, PolicyConfig, RecurrentPolicy, StepRequest,
};
use fourstock_proto::{ControllerState, Frame, PlayerFrame};

fn player(port: u8) -> PlayerFrame {
    PlayerFrame {
        port,
        follower: false,
        character: 2,
        action_state: 14,
        action_frame: 0.0,
        x: 1.0,
        y: 0.0,
        facing_right: true,
        percent: 0.0,
        stocks: 4,
        shield: 60.0,
        jumps_left: 2,
        on_ground: true,
        invulnerable: false,
        hitlag_left: 0.0,
        hitstun_left: 0.0,
        speed_air_x_self: 0.0,
        speed_ground_x_self: 0.0,
        speed_y_self: 0.0,
        speed_x_attack: 0.0,
        speed_y_attack: 0.0,
        controller: ControllerState::NEUTRAL,
    }
}

fn main() {
    let frame = Frame {
        frame: 0,
        stage: 32,
        players: vec![player(1), player(2)],
    };
    for cell in [CellKind::Lstm, CellKind::Gru] {
        let config = PolicyConfig {
            name: "timing".into(),
            description: String::new(),
            trained: false,
            cell,
            hidden_sizes: vec![256, 256],
            features: FeatureConfig::default(),
            delay: 0,
            reset: Default::default(),
            decoding: Default::default(),
            characters: Vec::new(),
        };
        let policy = RecurrentPolicy::initialize(config, 1).expect("a valid config");
        for batch in [1usize, 2, 4] {
            let mut states: Vec<_> = (0..batch).map(|i| policy.initial_state(i as u64)).collect();
            let steps = 3000;
            let mut micros = Vec::with_capacity(steps);
            for _ in 0..steps {
                let mut requests: Vec<_> = states
                    .iter_mut()
                    .map(|state| StepRequest {
                        frame: &frame,
                        port: 1,
                        state,
                    })
                    .collect();
                let start = Instant::now();
                policy.step(&mut requests).expect("a step");
                micros.push(start.elapsed().as_secs_f64() * 1e6);
            }
            micros.sort_by(f64::total_cmp);
            println!(
                "{cell:?} 2x256, batch {batch}: p50 {:.1} us, p99 {:.1} us",
                micros[steps / 2],
                micros[steps * 99 / 100]
            );
        }
    }
}
