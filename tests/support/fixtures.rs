//! Frames made up for tests: two players on Battlefield whose positions
//! change from frame to frame, so a policy sees a moving game.

use fourstock_proto::{Buttons, ControllerState, Frame, PlayerFrame, StageState};

pub const BATTLEFIELD: u16 = 31;
pub const FOX: u8 = 2;
pub const FALCO: u8 = 20;

/// A player on `port` at a position derived from `n`.
pub fn player(port: u8, character: u8, n: i32, stocks: u8) -> PlayerFrame {
    let t = n as f32;
    PlayerFrame {
        action_state: (14 + (n.rem_euclid(40)) as u16),
        action_frame: (n.rem_euclid(12)) as f32,
        x: 40.0 * (t * 0.05 + port as f32).sin(),
        y: 10.0 * (t * 0.11).cos().abs(),
        facing_right: (n / 30) % 2 == 0,
        percent: (n.max(0) % 150) as f32 * 0.7,
        stocks,
        shield: 60.0 - (n.rem_euclid(60)) as f32 * 0.5,
        jumps_left: (n.rem_euclid(3)) as u8,
        on_ground: n % 7 != 0,
        invulnerable: n % 50 == 0,
        hitstun_left: (n.rem_euclid(5)) as f32,
        speed_air_x_self: (t * 0.3).sin(),
        speed_ground_x_self: (t * 0.2).cos(),
        speed_y_self: -(t * 0.1).sin(),
        controller: ControllerState {
            buttons: Buttons(if n % 9 == 0 { Buttons::A } else { 0 }),
            main_x: 0.5 + 0.5 * (t * 0.07).sin(),
            main_y: 0.5,
            c_x: 0.5,
            c_y: 0.5,
            l_trigger: 0.0,
            r_trigger: 0.0,
        },
        ..PlayerFrame::new(port, character)
    }
}

/// Frame `n`: Falco on port 1, Fox on port 2, with the given stock counts.
pub fn frame(n: i32, stocks: [u8; 2]) -> Frame {
    Frame {
        frame: n,
        stage: BATTLEFIELD,
        stage_state: StageState::NONE,
        players: vec![player(1, FALCO, n, stocks[0]), player(2, FOX, n, stocks[1])],
    }
}

/// Frames `from..to`, four stocks each.
pub fn frames(from: i32, to: i32) -> Vec<Frame> {
    (from..to).map(|n| frame(n, [4, 4])).collect()
}
