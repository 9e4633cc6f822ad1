//! A GameCube controller: the input a player held on a frame, and the output
//! the daemon sends back. Sticks and triggers use libmelee's ranges.

use serde::{Deserialize, Serialize};

/// Digital buttons as a bit set. The bit order is part of the wire format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Buttons(pub u16);

impl Buttons {
    pub const A: u16 = 1 << 0;
    pub const B: u16 = 1 << 1;
    pub const X: u16 = 1 << 2;
    pub const Y: u16 = 1 << 3;
    pub const Z: u16 = 1 << 4;
    pub const L: u16 = 1 << 5;
    pub const R: u16 = 1 << 6;
    pub const START: u16 = 1 << 7;
    pub const D_UP: u16 = 1 << 8;
    pub const D_DOWN: u16 = 1 << 9;
    pub const D_LEFT: u16 = 1 << 10;
    pub const D_RIGHT: u16 = 1 << 11;
    /// Every bit that names a button; the others must be zero.
    pub const ALL: u16 = (1 << 12) - 1;
    /// The eight buttons a policy presses, in the order policies list them
    /// (slippi-ai's, and fourstock's head after it).
    pub const PLAYED: [u16; 8] = [
        Buttons::A,
        Buttons::B,
        Buttons::X,
        Buttons::Y,
        Buttons::Z,
        Buttons::L,
        Buttons::R,
        Buttons::D_UP,
    ];

    pub fn contains(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    pub fn set(&mut self, bit: u16, pressed: bool) {
        if pressed {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// One controller's full state.
///
/// Stick axes run from 0.0 to 1.0 with 0.5 neutral (libmelee's convention;
/// y grows upward). Triggers run from 0.0 (released) to 1.0 (fully pressed).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControllerState {
    pub buttons: Buttons,
    pub main_x: f32,
    pub main_y: f32,
    pub c_x: f32,
    pub c_y: f32,
    pub l_trigger: f32,
    pub r_trigger: f32,
}

impl ControllerState {
    /// Nothing pressed, both sticks centred.
    pub const NEUTRAL: ControllerState = ControllerState {
        buttons: Buttons(0),
        main_x: 0.5,
        main_y: 0.5,
        c_x: 0.5,
        c_y: 0.5,
        l_trigger: 0.0,
        r_trigger: 0.0,
    };

    /// The one analog shoulder policies and UMI's controller row read: the
    /// harder-pressed trigger.
    pub fn shoulder(&self) -> f32 {
        self.l_trigger.max(self.r_trigger)
    }

    /// The analog values in wire order.
    pub fn analog(&self) -> [f32; 6] {
        [
            self.main_x,
            self.main_y,
            self.c_x,
            self.c_y,
            self.l_trigger,
            self.r_trigger,
        ]
    }
}

impl Default for ControllerState {
    fn default() -> Self {
        Self::NEUTRAL
    }
}
