//! Reset semantics at the policy level: replacing a played state with a
//! fresh `initial_state(seed)` replays a brand-new state exactly.

mod common;

use fourstock_policy::{Policy, PolicyState, StepRequest};
use fourstock_proto::ControllerState;
use fourstock_recurrent::{CellKind, Decoding, RecurrentPolicy};

/// Steps `state` over frames `frames`; returns each step's controller and
/// the values of the state it left.
fn play(
    policy: &RecurrentPolicy,
    state: &mut PolicyState,
    frames: std::ops::Range<i32>,
) -> Vec<(ControllerState, Vec<f32>)> {
    frames
        .map(|n| {
            let frame = common::frame(n);
            let mut one = [StepRequest {
                frame: &frame,
                port: 1,
                state: &mut *state,
            }];
            let controller = policy.step(&mut one).unwrap()[0];
            let values = state
                .tensors
                .iter()
                .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .collect();
            (controller, values)
        })
        .collect()
}

#[test]
fn a_reset_state_replays_a_brand_new_one() {
    for (cell, decoding) in [
        (CellKind::Lstm, Decoding::Argmax),
        (CellKind::Gru, Decoding::Sample { temperature: 1.0 }),
    ] {
        let mut config = common::config("r", cell, vec![16, 8]);
        config.decoding = decoding;
        let policy = RecurrentPolicy::initialize(config, 6).unwrap();
        let mut brand_new = policy.initial_state(9);
        let first = play(&policy, &mut brand_new, 0..30);

        let mut state = policy.initial_state(9);
        play(&policy, &mut state, 0..45);
        // Without a reset, the same frames meet a different state.
        let stale = play(&policy, &mut state, 0..30);
        assert_ne!(
            stale[0].1, first[0].1,
            "{cell:?}: the state carries history"
        );

        state = policy.initial_state(9);
        assert_eq!(play(&policy, &mut state, 0..30), first, "{cell:?}");
    }
}
