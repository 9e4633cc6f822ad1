//! The feature layout, index by index.

mod common;

use fourstock_policy::PolicyError;
use fourstock_proto::{Buttons, Frame};
use fourstock_recurrent::action;
use fourstock_recurrent::featurizer::{self, Featurizer};
use fourstock_recurrent::FeatureConfig;

fn features(f: &Featurizer, frame: &Frame, port: u8) -> Vec<f32> {
    let mut out = vec![f32::NAN; f.size()];
    f.write(frame, port, &mut out).unwrap();
    out
}

fn with_speeds() -> Featurizer {
    Featurizer::new(&FeatureConfig {
        speeds: true,
        opponents: 1,
    })
}

#[test]
fn sizes_follow_the_layout() {
    let plain = Featurizer::new(&FeatureConfig::default());
    assert_eq!(plain.player_size(), 400 + 33 + 7 + 7);
    assert_eq!(plain.size(), 64 + 2 * 447 + 81);
    assert_eq!(with_speeds().size(), 64 + 2 * 452 + 81);
    let three = Featurizer::new(&FeatureConfig {
        speeds: false,
        opponents: 3,
    });
    assert_eq!(three.size(), 64 + 4 * 447 + 81);
}

#[test]
fn one_hots_and_scalars_land_where_the_layout_says() {
    let f = with_speeds();
    let mut frame = common::frame(0);
    let me = &mut frame.players[0];
    me.action_state = 0x2C;
    me.character = 20;
    me.jumps_left = 1;
    me.x = 50.0;
    me.y = -400.0;
    me.percent = 87.0;
    me.shield = 42.0;
    me.facing_right = false;
    me.on_ground = true;
    me.invulnerable = false;
    me.speed_air_x_self = 1.5;
    let out = features(&f, &frame, 1);
    assert!(out.iter().all(|v| v.is_finite()), "every slot is written");
    // Stage: Final Destination (32).
    assert_eq!(out[32], 1.0);
    assert_eq!(out[..64].iter().sum::<f32>(), 1.0);
    let me = f.player_at(0);
    assert_eq!(out[me + 0x2C], 1.0);
    assert_eq!(out[me..me + 400].iter().sum::<f32>(), 1.0);
    assert_eq!(out[me + 400 + 20], 1.0, "character one-hot");
    assert_eq!(out[me + 433 + 1], 1.0, "jumps one-hot");
    let s = me + 440;
    assert_eq!(&out[s..s + 7], &[2.5, -10.0, 0.87, 0.42, -1.0, 1.0, 0.0]);
    assert_eq!(out[s + 7], 0.75, "speeds scaled by 0.5");
}

#[test]
fn unknown_actions_share_one_bucket_and_jumps_clamp() {
    let f = with_speeds();
    let mut frame = common::frame(0);
    frame.players[0].action_state = 0x18F;
    frame.players[0].jumps_left = 9;
    let out = features(&f, &frame, 1);
    let me = f.player_at(0);
    assert_eq!(out[me + featurizer::UNKNOWN_ACTION], 1.0);
    frame.players[0].action_state = 0xFFFF;
    assert_eq!(features(&f, &frame, 1), out);
    assert_eq!(out[me + 433 + 6], 1.0);
}

#[test]
fn the_controlled_player_comes_first_and_followers_are_skipped() {
    let f = with_speeds();
    let mut frame = common::frame(5);
    let mut nana = frame.players[0].clone();
    nana.follower = true;
    nana.action_state = 300;
    frame.players.insert(1, nana);
    let from_1 = features(&f, &frame, 1);
    let from_2 = features(&f, &frame, 2);
    let (a, b, size) = (f.player_at(0), f.player_at(1), f.player_size());
    assert_eq!(&from_1[a..a + size], &from_2[b..b + size]);
    assert_eq!(&from_1[b..b + size], &from_2[a..a + size]);
    assert_eq!(from_1[b + 300], 0.0, "Nana is not the opponent");
    // A missing opponent is zeros.
    frame.players.retain(|p| p.port == 1);
    let alone = features(&f, &frame, 1);
    assert!(alone[b..b + size].iter().all(|&v| v == 0.0));
    assert!(matches!(
        f.write(&frame, 3, &mut vec![0.0; f.size()]),
        Err(PolicyError::MissingPort(3))
    ));
}

#[test]
fn the_held_controller_is_discretised_like_the_head() {
    let f = with_speeds();
    let mut frame = common::frame(1);
    let c = &mut frame.players[0].controller;
    c.buttons = Buttons(Buttons::A | Buttons::Z | Buttons::START);
    c.main_x = 1.0;
    c.main_y = 0.0;
    c.c_x = 0.5;
    c.c_y = 0.53;
    c.l_trigger = 0.2;
    c.r_trigger = 0.6;
    let out = features(&f, &frame, 1);
    let at = f.controller_at();
    assert_eq!(&out[at..at + 8], &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
    let stick = |axis: usize, class: usize| out[at + 8 + axis * 17 + class];
    assert_eq!(
        (stick(0, 16), stick(1, 0), stick(2, 8), stick(3, 8)),
        (1.0, 1.0, 1.0, 1.0)
    );
    assert_eq!(
        out[at + action::SHOULDER_AT + 2],
        1.0,
        "max(L, R) = 0.6 is class 2"
    );
    assert_eq!(out[at..].iter().sum::<f32>(), 2.0 + 4.0 + 1.0);
}

#[test]
fn the_block_offsets_are_the_documented_numbers() {
    assert_eq!(featurizer::ACTIONS, 400);
    assert_eq!(featurizer::UNKNOWN_ACTION, 399);
    assert_eq!(featurizer::CHARACTER_AT, 400);
    assert_eq!(featurizer::JUMPS_AT, 433);
    assert_eq!(featurizer::SCALARS_AT, 440);
    assert_eq!(featurizer::SPEEDS_AT, 447);
    let f = with_speeds();
    assert_eq!(f.player_size(), 452);
    assert_eq!((f.player_at(0), f.player_at(1)), (64, 516));
    assert_eq!(f.controller_at(), 968);
    assert_eq!(f.size(), 1049);
}

#[test]
fn out_of_range_stage_and_character_are_zeros_not_panics() {
    let f = with_speeds();
    let mut frame = common::frame(2);
    frame.stage = 64;
    frame.players[0].character = 33;
    let out = features(&f, &frame, 1);
    assert!(out[..64].iter().all(|&v| v == 0.0), "no stage bit");
    let me = f.player_at(0) + featurizer::CHARACTER_AT;
    assert!(
        out[me..me + 33].iter().all(|&v| v == 0.0),
        "no character bit"
    );
    frame.stage = u16::MAX;
    frame.players[0].character = u8::MAX;
    assert_eq!(features(&f, &frame, 1), out);
}

#[test]
fn opponents_follow_port_order_whatever_the_frame_order() {
    let f = Featurizer::new(&FeatureConfig {
        speeds: false,
        opponents: 3,
    });
    let mut frame = common::frame(3);
    // Ports 4, 2, Nana on 2, 3, 1; each with its own action state.
    frame.players = [4u8, 2, 3, 1]
        .iter()
        .map(|&port| {
            let mut p = common::player(port, 10 + port, 3);
            p.action_state = 100 + port as u16;
            p
        })
        .collect();
    let mut nana = common::player(2, 15, 3);
    nana.follower = true;
    nana.action_state = 250;
    frame.players.insert(2, nana);
    let out = features(&f, &frame, 3);
    let action_of = |block: usize| {
        let at = f.player_at(block);
        out[at..at + featurizer::ACTIONS]
            .iter()
            .position(|&v| v == 1.0)
    };
    assert_eq!(
        [action_of(0), action_of(1), action_of(2), action_of(3)],
        [Some(103), Some(101), Some(102), Some(104)],
        "me (3), then ports 1, 2, 4"
    );
    // Only the first opponent in port order when the model reads one.
    let one = Featurizer::new(&FeatureConfig {
        speeds: false,
        opponents: 1,
    });
    let out = features(&one, &frame, 4);
    let at = one.player_at(1);
    assert_eq!(out[at + 101], 1.0);
    assert_eq!(out[at..at + featurizer::ACTIONS].iter().sum::<f32>(), 1.0);
}

#[test]
fn the_sparse_form_is_the_dense_vector_without_its_zeros() {
    let configs = [
        FeatureConfig::default(),
        FeatureConfig {
            speeds: true,
            opponents: 1,
        },
        FeatureConfig {
            speeds: true,
            opponents: 3,
        },
    ];
    for config in configs {
        let f = Featurizer::new(&config);
        for n in -123..200 {
            let mut frame = common::frame(n);
            if n % 7 == 0 {
                // A zero scalar, and a negative zero: both left out.
                frame.players[0].x = 0.0;
                frame.players[1].y = -0.0;
            }
            for port in [1, 2] {
                let dense = features(&f, &frame, port);
                let want: Vec<(u32, f32)> = dense
                    .iter()
                    .enumerate()
                    .filter(|(_, &v)| v != 0.0)
                    .map(|(j, &v)| (j as u32, v))
                    .collect();
                let mut got = vec![(9999, 9.0)];
                f.write_sparse(&frame, port, &mut got).unwrap();
                assert_eq!(got[0], (9999, 9.0), "appends, keeps what was there");
                assert_eq!(got[1..], want[..], "{config:?} frame {n} port {port}");
            }
        }
        let mut out = Vec::new();
        assert!(matches!(
            f.write_sparse(&common::frame(0), 4, &mut out),
            Err(PolicyError::MissingPort(4))
        ));
    }
}
