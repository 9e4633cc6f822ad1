//! The controller a player held on a frame, from the pre-frame event:
//! physical buttons, the processed main stick and c-stick, and the physical
//! analog triggers, in libmelee's ranges.

use fourstock_proto::{Buttons, ControllerState};
use peppi::frame::transpose::Pre;

/// Slippi's physical button bits (the GameCube pad status word) and ours.
const BUTTONS: [(u16, u16); 12] = [
    (0x0001, Buttons::D_LEFT),
    (0x0002, Buttons::D_RIGHT),
    (0x0004, Buttons::D_DOWN),
    (0x0008, Buttons::D_UP),
    (0x0010, Buttons::Z),
    (0x0020, Buttons::R),
    (0x0040, Buttons::L),
    (0x0100, Buttons::A),
    (0x0200, Buttons::B),
    (0x0400, Buttons::X),
    (0x0800, Buttons::Y),
    (0x1000, Buttons::START),
];

/// The controller state in a pre-frame event.
pub(crate) fn from_pre(pre: &Pre) -> ControllerState {
    ControllerState {
        buttons: buttons(pre.buttons_physical),
        main_x: stick(pre.joystick.x),
        main_y: stick(pre.joystick.y),
        c_x: stick(pre.cstick.x),
        c_y: stick(pre.cstick.y),
        l_trigger: trigger(pre.triggers_physical.l),
        r_trigger: trigger(pre.triggers_physical.r),
    }
}

/// Maps Slippi's physical button word to ours; unknown bits are dropped.
pub(crate) fn buttons(physical: u16) -> Buttons {
    let mut out = Buttons::default();
    for (slippi, ours) in BUTTONS {
        out.set(ours, physical & slippi != 0);
    }
    out
}

/// A stick axis from Slippi's -1..1 to libmelee's 0..1 (0.5 neutral).
fn stick(v: f32) -> f32 {
    if v.is_finite() {
        (v / 2.0 + 0.5).clamp(0.0, 1.0)
    } else {
        0.5
    }
}

/// A trigger, already 0..1 in Slippi; clamped, released when garbled.
fn trigger(v: f32) -> f32 {
    if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_map_bit_by_bit() {
        assert_eq!(buttons(0x0100), Buttons(Buttons::A));
        assert_eq!(buttons(0x0200 | 0x0800), Buttons(Buttons::B | Buttons::Y));
        assert_eq!(
            buttons(0x1000 | 0x0008),
            Buttons(Buttons::START | Buttons::D_UP)
        );
        // Bit 0x0080 is not a button (it is set by some adapters).
        assert_eq!(buttons(0x0080), Buttons(0));
        assert_eq!(buttons(0xffff).0, Buttons::ALL);
    }

    #[test]
    fn sticks_and_triggers_land_in_range() {
        assert_eq!(stick(0.0), 0.5);
        assert_eq!(stick(-1.0), 0.0);
        assert_eq!(stick(1.0), 1.0);
        assert_eq!(stick(3.0), 1.0);
        assert_eq!(stick(f32::NAN), 0.5);
        assert_eq!(trigger(-0.1), 0.0);
        assert_eq!(trigger(f32::INFINITY), 0.0);
        assert_eq!(trigger(0.25), 0.25);
    }
}
