//! Frames and configs for the policy tests.

#![allow(dead_code)]

use fourstock_proto::{Buttons, ControllerState, Frame, PlayerFrame, StageState};
use fourstock_recurrent::{CellKind, FeatureConfig, PolicyConfig};

pub fn player(port: u8, character: u8, n: i32) -> PlayerFrame {
    let t = n as f32;
    PlayerFrame {
        action_state: (20 + n.rem_euclid(300)) as u16,
        action_frame: n.rem_euclid(9) as f32,
        x: 70.0 * (t * 0.13 + port as f32).sin(),
        y: 30.0 * (t * 0.07).cos(),
        facing_right: n % 2 == 0,
        percent: (n.rem_euclid(120)) as f32,
        shield: 60.0 - n.rem_euclid(30) as f32,
        jumps_left: n.rem_euclid(3) as u8,
        on_ground: n % 3 != 0,
        invulnerable: n % 11 == 0,
        speed_air_x_self: (t * 0.5).sin(),
        speed_ground_x_self: (t * 0.3).cos(),
        speed_y_self: (t * 0.2).sin() * 2.0,
        controller: ControllerState {
            buttons: Buttons(if n % 4 == 0 { Buttons::B } else { 0 }),
            main_x: 0.5 + 0.5 * (t * 0.21).sin(),
            main_y: 0.5,
            c_x: 0.5,
            c_y: 0.5,
            l_trigger: if n % 5 == 0 { 1.0 } else { 0.0 },
            r_trigger: 0.0,
        },
        ..PlayerFrame::new(port, character)
    }
}

pub fn frame(n: i32) -> Frame {
    Frame {
        frame: n,
        stage: 32,
        stage_state: StageState::NONE,
        players: vec![player(1, 20, n), player(2, 2, n + 17)],
    }
}

pub fn config(name: &str, cell: CellKind, hidden: Vec<usize>) -> PolicyConfig {
    PolicyConfig {
        name: name.into(),
        description: String::new(),
        trained: false,
        cell,
        hidden_sizes: hidden,
        features: FeatureConfig {
            speeds: true,
            opponents: 1,
        },
        delay: 0,
        reset: Default::default(),
        decoding: Default::default(),
        characters: Vec::new(),
    }
}
