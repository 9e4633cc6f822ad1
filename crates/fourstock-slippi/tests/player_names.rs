//! The imitated player is per port: ports on one model with different
//! player names step together in one batch exactly as each steps alone,
//! their embedded inputs differ exactly in the name one-hot, and a name
//! outside the checkpoint's name map is refused. Built on a small model
//! with random weights, so it always runs.

use std::collections::{BTreeMap, HashMap};

use candle_core::{Device, Tensor};
use fourstock_policy::{PlayerName, Policy, PolicyState, StepRequest};
use fourstock_proto::{ControllerState, Frame, PlayerFrame, StageState};
use fourstock_slippi::config::{CoreConfig, HeadConfig};
use fourstock_slippi::{
    timing, weights, wire, ControllerClasses, SlippiConfig, SlippiModel, SlippiPolicy,
};

fn policy() -> SlippiPolicy {
    let base = timing::practical_config("names");
    let config = SlippiConfig {
        core: CoreConfig {
            hidden_size: 32,
            num_layers: 2,
            ..base.core
        },
        head: HeadConfig {
            residual_size: 16,
            component_depth: 1,
        },
        name_map: BTreeMap::from([("Ann".to_string(), 2), ("Bo".to_string(), 9)]),
        player_name: Some("Ann".into()),
        ..base
    };
    let tensors: HashMap<String, Tensor> = weights::random_tensors(&config, 4)
        .into_iter()
        .map(|(name, t)| {
            let tensor = Tensor::from_vec(t.values, t.shape, &Device::Cpu).unwrap();
            (name, tensor)
        })
        .collect();
    SlippiPolicy::new(SlippiModel::from_tensors(config, tensors).unwrap())
}

/// Frame `t` on Yoshi's Story: Fox on port 1, Marth on port 2, moving.
fn frame(t: i32) -> Frame {
    let player = |port: u8, character: u8| PlayerFrame {
        action_state: 14 + (t as u16 * 7 + port as u16) % 300,
        x: 40.0 * ((t as f32) * 0.05 + port as f32).sin(),
        y: (t % 40) as f32,
        facing_right: (t / 20 + port as i32) % 2 == 0,
        percent: (t % 150) as f32,
        jumps_left: (t % 3) as u8,
        on_ground: t % 5 != 0,
        ..PlayerFrame::new(port, character)
    };
    Frame {
        frame: t - 123,
        stage: 8,
        stage_state: StageState {
            randall: [-40.0 + (t % 80) as f32, -33.25],
            fod_platforms: [0.0; 2],
        },
        players: vec![player(1, 2), player(2, 9)],
    }
}

/// A fresh state imitating `player`, as the daemon makes one for a port.
fn state(policy: &SlippiPolicy, seed: u64, player: &PlayerName) -> PolicyState {
    let mut state = policy.initial_state(seed);
    state.name_code = Some(player.code);
    state
}

fn values(state: &PolicyState) -> Vec<f32> {
    state
        .tensors
        .iter()
        .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

fn step(policy: &SlippiPolicy, batch: &mut [StepRequest<'_>]) -> Vec<ControllerState> {
    policy.step(batch).unwrap()
}

#[test]
fn names_resolve_from_the_map_and_others_are_refused() {
    let policy = policy();
    let ann = PlayerName {
        name: "Ann".into(),
        code: 2,
    };
    assert_eq!(policy.player_name(None).unwrap(), Some(ann.clone()));
    assert_eq!(policy.player_name(Some("Ann")).unwrap(), Some(ann));
    assert_eq!(policy.player_name(Some("Bo")).unwrap().unwrap().code, 9);
    assert_eq!(policy.initial_state(0).name_code, Some(2), "the default");
    let refusal = policy.player_name(Some("Cy")).unwrap_err();
    for needle in ["names", "Cy", "\"Ann\"", "\"Bo\""] {
        assert!(refusal.contains(needle), "{needle:?} in {refusal:?}");
    }
}

#[test]
fn ports_with_different_names_batch_as_they_step_alone() {
    let policy = policy();
    let ann = policy.player_name(Some("Ann")).unwrap().unwrap();
    let bo = policy.player_name(Some("Bo")).unwrap().unwrap();
    // Port 1 imitates Ann, port 2 Bo: batched, and each alone.
    let (mut a, mut b) = (state(&policy, 1, &ann), state(&policy, 2, &bo));
    let (mut a1, mut b1) = (state(&policy, 1, &ann), state(&policy, 2, &bo));
    // Port 2 imitating Ann instead, to show the name changes the play.
    let mut b_as_ann = state(&policy, 2, &ann);
    let mut name_mattered = false;
    for t in 0..120 {
        let f = frame(t);
        let together = step(
            &policy,
            &mut [
                StepRequest {
                    frame: &f,
                    port: 1,
                    state: &mut a,
                },
                StepRequest {
                    frame: &f,
                    port: 2,
                    state: &mut b,
                },
            ],
        );
        let alone_a = step(
            &policy,
            &mut [StepRequest {
                frame: &f,
                port: 1,
                state: &mut a1,
            }],
        );
        let alone_b = step(
            &policy,
            &mut [StepRequest {
                frame: &f,
                port: 2,
                state: &mut b1,
            }],
        );
        assert_eq!(together, [alone_a[0], alone_b[0]], "frame {t}");
        for (batched, alone) in [(&a, &a1), (&b, &b1)] {
            assert_eq!(batched.name_code, alone.name_code);
            for (x, y) in values(batched).iter().zip(values(alone)) {
                assert!((x - y).abs() <= 1e-5, "frame {t}: state {x} vs {y}");
            }
        }
        step(
            &policy,
            &mut [StepRequest {
                frame: &f,
                port: 2,
                state: &mut b_as_ann,
            }],
        );
        name_mattered |= values(&b_as_ann) != values(&b);
    }
    assert!(name_mattered, "Bo and Ann play port 2 differently");
    assert_eq!((a.name_code, b.name_code), (Some(2), Some(9)));
}

#[test]
fn embedded_inputs_differ_exactly_in_the_name_one_hot() {
    let policy = policy();
    let model = policy.model();
    let f = frame(40);
    let obs = wire::observe(&f, 1).unwrap();
    assert_eq!(
        obs.randall, f.stage_state.randall,
        "Randall reaches the input"
    );
    let prev = ControllerClasses::default();
    let x = model
        .embed(&[(obs, prev, Some(2)), (obs, prev, Some(9))])
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let name = model
        .featurizer()
        .layout()
        .iter()
        .find(|s| s.field == "name")
        .unwrap();
    let differ: Vec<usize> = (0..x[0].len()).filter(|&i| x[0][i] != x[1][i]).collect();
    assert_eq!(differ, [name.offset + 2, name.offset + 9]);
    assert_eq!((x[0][name.offset + 2], x[1][name.offset + 9]), (1.0, 1.0));
}
