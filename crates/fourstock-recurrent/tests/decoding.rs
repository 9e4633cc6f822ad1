//! Decoding through a whole policy: argmax ignores the seed, sampling is
//! a function of it, and a cold temperature plays like argmax.

mod common;

use fourstock_policy::{Policy, StepRequest};
use fourstock_proto::ControllerState;
use fourstock_recurrent::{CellKind, Decoding, RecurrentPolicy};

fn policy(decoding: Decoding) -> RecurrentPolicy {
    let mut config = common::config("d", CellKind::Lstm, vec![32, 16]);
    config.decoding = decoding;
    // The same weights whatever the decoding.
    RecurrentPolicy::initialize(config, 21).unwrap()
}

fn play(policy: &RecurrentPolicy, seed: u64) -> Vec<ControllerState> {
    let mut state = policy.initial_state(seed);
    (0..60)
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

#[test]
fn argmax_is_the_same_whatever_the_seed() {
    let p = policy(Decoding::Argmax);
    let first = play(&p, 1);
    assert_eq!(play(&p, 1), first);
    assert_eq!(play(&p, 2), first);
    for c in &first {
        for v in [c.main_x, c.main_y, c.c_x, c.c_y] {
            assert_eq!((v * 16.0).fract(), 0.0, "sticks sit on the 17 classes");
        }
        assert_eq!((c.l_trigger * 4.0).fract(), 0.0);
        assert_eq!(c.r_trigger, 0.0);
    }
}

#[test]
fn sampling_repeats_with_a_seed_and_differs_across_seeds() {
    let p = policy(Decoding::Sample { temperature: 1.0 });
    let first = play(&p, 1);
    assert_eq!(play(&p, 1), first);
    let other = play(&p, 2);
    let differing = first.iter().zip(&other).filter(|(a, b)| a != b).count();
    assert!(differing > 30, "only {differing} of 60 frames differ");
}

#[test]
fn a_cold_temperature_plays_like_argmax() {
    let argmax = play(&policy(Decoding::Argmax), 0);
    let hot = play(&policy(Decoding::Sample { temperature: 1.0 }), 5);
    assert_ne!(hot, argmax, "sampling at T = 1 strays from argmax");
    let cold = play(&policy(Decoding::Sample { temperature: 1e-4 }), 5);
    assert_eq!(cold, argmax);
}
