//! `SlippiPolicy` behind fourstock's `Policy` trait, driven with protocol
//! frames built from the parity game: the wire mapping reproduces
//! slippi-ai's observations exactly, every frame gets one controller,
//! sampling is seeded and follows slippi-ai's agent loop, and batches
//! equal single steps.

mod common;

use candle_core::Device;
use fourstock_policy::{Policy, PolicyError, PolicyState, StepRequest};
use fourstock_proto::melee::{external_character, internal_stage};
use fourstock_proto::{ControllerState, Frame, PlayerFrame, StageState};
use fourstock_slippi::policy::PortExtras;
use fourstock_slippi::tech_mask::TechMask;
use fourstock_slippi::{
    sampling, wire, ControllerClasses, ControllerSpace, SlippiModel, SlippiPolicy,
};
use rand::SeedableRng;

const ME: u8 = 2;
const OPPONENT: u8 = 1;

fn external_stage(internal: u8) -> u16 {
    (0..=0xFFu16)
        .find(|&e| internal_stage(e) == internal)
        .unwrap()
}

fn player_frame(port: u8, p: &common::Player, follower: bool) -> PlayerFrame {
    PlayerFrame {
        port,
        follower,
        character: external_character(p.character).unwrap(),
        action_state: p.action_unfiltered.unwrap_or(p.action),
        action_frame: 0.0,
        x: p.x as f32,
        y: p.y as f32,
        facing_right: p.facing,
        // The wire carries damage as a float; slippi-ai keeps the integer.
        percent: p.percent as f32 + 0.4,
        stocks: 4,
        shield: p.shield_strength as f32,
        jumps_left: p.jumps_left,
        on_ground: p.on_ground,
        invulnerable: p.invulnerable,
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

/// The parity game as protocol frames: slippi-ai's p0 on port 2, p1 on
/// port 1, plus a follower on port 1 that must be ignored. The stage state
/// is what slippi-ai recorded.
fn wire_frames(frames: &[common::FrameLine]) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| Frame {
            frame: f.t as i32 - 123,
            stage: external_stage(f.stage),
            stage_state: StageState {
                randall: [f.randall.x as f32, f.randall.y as f32],
                fod_platforms: [f.fod_platforms.left as f32, f.fod_platforms.right as f32],
            },
            players: vec![
                player_frame(OPPONENT, &f.p1, false),
                PlayerFrame {
                    x: -999.0,
                    ..player_frame(OPPONENT, &f.p1, true)
                },
                player_frame(ME, &f.p0, false),
            ],
        })
        .collect()
}

fn step_one(policy: &SlippiPolicy, frame: &Frame, state: &mut PolicyState) -> ControllerState {
    let mut batch = [StepRequest {
        frame,
        port: ME,
        state,
    }];
    policy.step(&mut batch).unwrap().remove(0)
}

fn synthetic_policy(dir: &std::path::Path) -> SlippiPolicy {
    SlippiPolicy::new(SlippiModel::load_converted(&dir.join("synthetic_nnx")).unwrap())
}

#[test]
fn wire_frames_map_to_slippi_ai_observations() {
    let Some(dir) = common::parity_dir("wire_frames_map_to_slippi_ai_observations") else {
        return;
    };
    let frames = common::frames(&dir);
    let mut mask = TechMask::new();
    for (line, frame) in frames.iter().zip(wire_frames(&frames)) {
        let mut obs = wire::observe(&frame, ME).unwrap();
        obs.p1.action = mask.apply(obs.p1.action);
        assert_eq!(obs, line.observation(), "frame {}", line.t);
    }
    // A client that sends Randall and the platforms on every stage: off
    // Yoshi's Story and Fountain of Dreams they read as zeros, as in the
    // game slippi-ai parsed.
    let mut mask = TechMask::new();
    for (line, mut frame) in frames.iter().zip(wire_frames(&frames)) {
        frame.stage_state = StageState {
            randall: [-45.25, -33.25],
            fod_platforms: [20.0, 28.0],
        };
        let mut obs = wire::observe(&frame, ME).unwrap();
        obs.p1.action = mask.apply(obs.p1.action);
        assert_eq!(obs, line.observation(), "frame {}", line.t);
    }
}

#[test]
fn every_frame_gets_a_seeded_controller() {
    let Some(dir) = common::parity_dir("every_frame_gets_a_seeded_controller") else {
        return;
    };
    let policy = synthetic_policy(&dir);
    let info = policy.info();
    assert_eq!(
        (info.input_size, info.hidden_sizes.clone()),
        (1009, vec![32, 32])
    );
    assert!(!info.reset.stock_loss && info.reset.new_match);
    let frames = wire_frames(&common::frames(&dir));
    let run = |seed| {
        let mut state = policy.initial_state(seed);
        assert_eq!(state.tensors.len(), 2 * 2);
        assert!(state.extras::<PortExtras>().is_some());
        frames
            .iter()
            .map(|f| step_one(&policy, f, &mut state))
            .collect::<Vec<_>>()
    };
    let a = run(5);
    assert_eq!(a.len(), frames.len());
    for c in &a {
        for v in [c.main_x, c.main_y, c.c_x, c.c_y, c.l_trigger] {
            assert!(
                (0.0..=1.0).contains(&v) && (v * 4.0).fract() == 0.0,
                "{c:?}"
            );
        }
        assert_eq!(c.r_trigger, 0.0);
    }
    assert_eq!(a, run(5), "the same seed replays the same game");
    assert_ne!(a, run(6), "another seed samples differently");
}

#[test]
fn serving_follows_slippi_ais_agent_loop() {
    let Some(dir) = common::parity_dir("serving_follows_slippi_ais_agent_loop") else {
        return;
    };
    let policy = synthetic_policy(&dir);
    let model = policy.model().clone();
    let space = model.featurizer().controller_space();
    let frames = wire_frames(&common::frames(&dir));
    let mut state = policy.initial_state(9);
    // The same loop by hand: tech mask on the opponent, the policy's own
    // previous sample (slippi-ai's all-zero dummy at first), the core, and
    // the head sampling component after component from the same stream.
    let mut core_state = model.core().zero_state(1, &Device::Cpu).unwrap();
    let mut prev = ControllerClasses::default();
    let mut mask = TechMask::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    for frame in frames.iter().take(300) {
        let served = step_one(&policy, frame, &mut state);
        let mut obs = wire::observe(frame, ME).unwrap();
        obs.p1.action = mask.apply(obs.p1.action);
        let x = model.embed(&[(obs, prev, policy.name_code())]).unwrap();
        let (out, next) = model.core().step(&x, &core_state).unwrap();
        core_state = next;
        let head = model
            .head()
            .run(&out, &[prev], false, |_, k, logits| {
                sampling::sample(logits, ControllerSpace::is_button(k), 1.0, &mut rng)
            })
            .unwrap();
        prev = head.controllers[0];
        assert_eq!(served, space.decode(&prev), "frame {}", frame.frame);
    }
    for (ours, theirs) in state.tensors.iter().zip(&core_state) {
        let a = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a, b);
    }
    let extras = state.extras::<PortExtras>().expect("slippi-ai extras");
    assert_eq!(extras.prev, prev);
    assert_eq!(extras.tech_mask, mask);
}

#[test]
fn a_batch_equals_single_steps() {
    let Some(dir) = common::parity_dir("a_batch_equals_single_steps") else {
        return;
    };
    let policy = synthetic_policy(&dir);
    let frames = wire_frames(&common::frames(&dir));
    let (mut a, mut b) = (policy.initial_state(1), policy.initial_state(2));
    let (mut a1, mut b1) = (policy.initial_state(1), policy.initial_state(2));
    for frame in frames.iter().take(200) {
        let batched = {
            let mut batch = [
                StepRequest {
                    frame,
                    port: ME,
                    state: &mut a,
                },
                StepRequest {
                    frame,
                    port: OPPONENT,
                    state: &mut b,
                },
            ];
            policy.step(&mut batch).unwrap()
        };
        let single_a = step_one(&policy, frame, &mut a1);
        let single_b = {
            let mut batch = [StepRequest {
                frame,
                port: OPPONENT,
                state: &mut b1,
            }];
            policy.step(&mut batch).unwrap().remove(0)
        };
        assert_eq!(batched, vec![single_a, single_b], "frame {}", frame.frame);
    }
    for (x, y) in a.tensors.iter().zip(&a1.tensors) {
        let x = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let y = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() <= 1e-6);
        }
    }
}

#[test]
fn a_port_missing_from_the_frame_is_an_error() {
    let Some(dir) = common::parity_dir("a_port_missing_from_the_frame_is_an_error") else {
        return;
    };
    let policy = synthetic_policy(&dir);
    let frames = wire_frames(&common::frames(&dir));
    let mut state = policy.initial_state(0);
    let mut batch = [StepRequest {
        frame: &frames[0],
        port: 4,
        state: &mut state,
    }];
    assert!(matches!(
        policy.step(&mut batch),
        Err(PolicyError::MissingPort(4))
    ));
}
