//! Left/right mirror augmentation: a game seen in a mirror is another game
//! a human could have played. Melee's legal stages are symmetric about
//! x = 0 (their moving parts aside), so flipping every x position, x
//! speed, facing and stick x axis, and swapping d-pad left and right,
//! turns one replay into two without changing what the right input is.
//! Training on both halves the data's left/right bias.
//!
//! Heights, percents, action states and the y axes are left alone. On
//! Fountain of Dreams the side platforms swap places in the mirror, and
//! Randall's x is flipped like a player's.

use std::sync::Arc;

use fourstock_proto::{Buttons, ControllerState, Frame, PlayerFrame};

/// `frame` as seen in a mirror at x = 0.
pub fn mirror_frame(frame: &Frame) -> Frame {
    let mut out = frame.clone();
    for player in &mut out.players {
        mirror_player(player);
    }
    out.stage_state.randall[0] = -out.stage_state.randall[0];
    out.stage_state.fod_platforms.swap(0, 1);
    out
}

/// Every frame of a game, mirrored.
pub fn mirror_frames(frames: &Arc<Vec<Frame>>) -> Arc<Vec<Frame>> {
    Arc::new(frames.iter().map(mirror_frame).collect())
}

fn mirror_player(p: &mut PlayerFrame) {
    p.x = -p.x;
    p.facing_right = !p.facing_right;
    p.speed_air_x_self = -p.speed_air_x_self;
    p.speed_ground_x_self = -p.speed_ground_x_self;
    p.speed_x_attack = -p.speed_x_attack;
    p.controller = mirror_controller(&p.controller);
}

/// A controller with its x axes flipped about neutral (0.5) and d-pad left
/// and right swapped.
pub fn mirror_controller(c: &ControllerState) -> ControllerState {
    let mut out = *c;
    out.main_x = mirror_axis(c.main_x);
    out.c_x = mirror_axis(c.c_x);
    let (left, right) = (
        c.buttons.contains(Buttons::D_LEFT),
        c.buttons.contains(Buttons::D_RIGHT),
    );
    out.buttons.set(Buttons::D_LEFT, right);
    out.buttons.set(Buttons::D_RIGHT, left);
    out
}

/// `1 - v`. Exact, so mirroring twice gives `v` back bit for bit, for
/// every `v` in [0.25, 1] and for every stick class's value; below 0.25 a
/// value with more precision than its mirror can hold comes back within
/// one rounding step.
fn mirror_axis(v: f32) -> f32 {
    1.0 - v
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_proto::melee;
    use fourstock_recurrent::action;

    fn sample_frame() -> Frame {
        let mut a = PlayerFrame::new(1, 20);
        a.x = -37.25;
        a.y = 12.5;
        a.facing_right = true;
        a.speed_air_x_self = 1.3;
        a.speed_ground_x_self = -0.7;
        a.speed_x_attack = 2.25;
        a.speed_y_self = -3.0;
        a.controller = ControllerState {
            buttons: Buttons(Buttons::A | Buttons::D_LEFT | Buttons::L),
            main_x: 0.8125,
            main_y: 0.25,
            c_x: 0.0,
            c_y: 0.5,
            l_trigger: 1.0,
            r_trigger: 0.0,
        };
        let mut b = PlayerFrame::new(2, 2);
        b.x = 50.0;
        b.facing_right = false;
        b.controller.main_x = 0.5;
        Frame {
            frame: 100,
            stage: melee::LEGAL_STAGES[0],
            stage_state: fourstock_proto::StageState {
                randall: [-20.0, 3.0],
                fod_platforms: [10.0, 25.0],
            },
            players: vec![a, b],
        }
    }

    #[test]
    fn mirroring_twice_gives_the_frame_back() {
        let frame = sample_frame();
        let once = mirror_frame(&frame);
        assert_ne!(once, frame);
        assert_eq!(mirror_frame(&once), frame);
    }

    #[test]
    fn the_mirror_flips_x_facing_speeds_and_stick_x_only() {
        let frame = sample_frame();
        let m = mirror_frame(&frame);
        let (a, ma) = (&frame.players[0], &m.players[0]);
        assert_eq!(ma.x, 37.25);
        assert_eq!(ma.y, a.y);
        assert!(!ma.facing_right);
        assert_eq!(ma.speed_air_x_self, -1.3);
        assert_eq!(ma.speed_ground_x_self, 0.7);
        assert_eq!(ma.speed_x_attack, -2.25);
        assert_eq!(ma.speed_y_self, a.speed_y_self);
        assert_eq!(ma.controller.main_x, 0.1875);
        assert_eq!(ma.controller.main_y, 0.25);
        assert_eq!(ma.controller.c_x, 1.0);
        assert!(ma.controller.buttons.contains(Buttons::D_RIGHT));
        assert!(!ma.controller.buttons.contains(Buttons::D_LEFT));
        assert!(ma.controller.buttons.contains(Buttons::A | Buttons::L));
        assert_eq!(m.stage_state.randall, [20.0, 3.0]);
        assert_eq!(m.stage_state.fod_platforms, [25.0, 10.0]);
    }

    #[test]
    fn stick_classes_mirror_about_neutral() {
        let top = action::STICK_CLASSES - 1;
        for k in 0..action::STICK_CLASSES {
            let v = action::stick_value(k);
            assert_eq!(action::stick_class(mirror_axis(v)), top - k, "class {k}");
            assert_eq!(mirror_axis(mirror_axis(v)), v, "class {k}");
        }
    }
}
