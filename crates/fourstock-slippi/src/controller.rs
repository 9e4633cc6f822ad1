//! The controller as slippi-ai's policies see it: 13 discrete components,
//! in the autoregressive order the head samples them and the order the
//! embedding lays them out: buttons A, B, X, Y, Z, L, R, D_UP, then main
//! stick x and y, c-stick x and y, and the shoulder.
//!
//! A button is 0 or 1. A stick axis or the shoulder in [0, 1] becomes the
//! class `uint8(v * n + 0.5)` (computed in f32, truncated), where `n` is the
//! config's axis or shoulder spacing; class `k` decodes back to `k / n`.
//! The shoulder is sent as the L trigger's analog value, as slippi-ai does.

use fourstock_proto::{Buttons, ControllerState};

use crate::config::EmbedConfig;

/// How many components a controller has.
pub const COMPONENTS: usize = 13;
/// The first eight components are buttons.
pub const BUTTONS: usize = 8;

/// Component names, as slippi-ai writes them, in autoregressive order.
pub const COMPONENT_NAMES: [&str; COMPONENTS] = [
    "buttons/A",
    "buttons/B",
    "buttons/X",
    "buttons/Y",
    "buttons/Z",
    "buttons/L",
    "buttons/R",
    "buttons/D_UP",
    "main_stick/x",
    "main_stick/y",
    "c_stick/x",
    "c_stick/y",
    "shoulder",
];

/// The wire bit of each button component: slippi-ai's buttons.
const WIRE_BUTTONS: [u16; BUTTONS] = fourstock_proto::Buttons::PLAYED;

/// A discretised controller: one class per component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ControllerClasses(pub [u8; COMPONENTS]);

/// The shape of the discrete controller under one embed config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerSpace {
    axis_spacing: u32,
    shoulder_spacing: u32,
}

impl ControllerSpace {
    pub fn new(config: &EmbedConfig) -> ControllerSpace {
        ControllerSpace {
            axis_spacing: config.axis_spacing,
            shoulder_spacing: config.shoulder_spacing,
        }
    }

    pub fn is_button(component: usize) -> bool {
        component < BUTTONS
    }

    /// The spacing `n` of a stick or shoulder component.
    fn spacing(&self, component: usize) -> u32 {
        if component == COMPONENTS - 1 {
            self.shoulder_spacing
        } else {
            self.axis_spacing
        }
    }

    /// How many classes a component has: 2 for a button, `n + 1` otherwise.
    pub fn classes(&self, component: usize) -> usize {
        if Self::is_button(component) {
            2
        } else {
            self.spacing(component) as usize + 1
        }
    }

    /// Width of a component's embedding, which is also the width of its
    /// distribution: 1 for a button (a single logit), `n + 1` otherwise.
    pub fn width(&self, component: usize) -> usize {
        if Self::is_button(component) {
            1
        } else {
            self.classes(component)
        }
    }

    /// Width of the whole controller embedding.
    pub fn embedding_width(&self) -> usize {
        (0..COMPONENTS).map(|k| self.width(k)).sum()
    }

    /// Writes one component's embedding (`[0|1]` for a button, a one-hot
    /// otherwise) into `out`, which is [`ControllerSpace::width`] long. A
    /// class out of range leaves the one-hot empty.
    pub fn embed(&self, component: usize, class: u8, out: &mut [f32]) {
        out.fill(0.0);
        if Self::is_button(component) {
            out[0] = if class != 0 { 1.0 } else { 0.0 };
        } else if let Some(slot) = out.get_mut(class as usize) {
            *slot = 1.0;
        }
    }

    /// The class of a value in [0, 1] for a stick or shoulder component.
    pub fn discretise(&self, component: usize, value: f32) -> u8 {
        let n = self.spacing(component) as f32;
        let v = if value.is_nan() {
            0.0
        } else {
            value.clamp(0.0, 1.0)
        };
        (v * n + 0.5) as u8
    }

    /// A wire controller as classes. The shoulder is the harder-pressed trigger.
    pub fn encode(&self, c: &ControllerState) -> ControllerClasses {
        let mut classes = [0u8; COMPONENTS];
        for (slot, &bit) in classes.iter_mut().zip(&WIRE_BUTTONS) {
            *slot = c.buttons.contains(bit) as u8;
        }
        let analog = [c.main_x, c.main_y, c.c_x, c.c_y, c.shoulder()];
        for (i, v) in analog.into_iter().enumerate() {
            classes[BUTTONS + i] = self.discretise(BUTTONS + i, v);
        }
        ControllerClasses(classes)
    }

    /// Classes as a wire controller: class `k` is `k / n`; the shoulder
    /// goes to the L trigger.
    pub fn decode(&self, c: &ControllerClasses) -> ControllerState {
        let mut out = ControllerState::NEUTRAL;
        let mut buttons = Buttons::default();
        for (&class, &bit) in c.0.iter().zip(&WIRE_BUTTONS) {
            buttons.set(bit, class != 0);
        }
        out.buttons = buttons;
        let value = |k: usize| (c.0[k] as f64 / self.spacing(k) as f64).min(1.0) as f32;
        out.main_x = value(BUTTONS);
        out.main_y = value(BUTTONS + 1);
        out.c_x = value(BUTTONS + 2);
        out.c_y = value(BUTTONS + 3);
        out.l_trigger = value(BUTTONS + 4);
        out.r_trigger = 0.0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> ControllerSpace {
        ControllerSpace {
            axis_spacing: 4,
            shoulder_spacing: 2,
        }
    }

    #[test]
    fn discretisation_truncates_after_adding_a_half() {
        let s = space();
        assert_eq!(s.discretise(8, 0.5), 2);
        assert_eq!(s.discretise(8, 0.0), 0);
        assert_eq!(s.discretise(8, 1.0), 4);
        assert_eq!(s.discretise(8, 0.62), 2); // 2.48 + 0.5 -> 2
        assert_eq!(s.discretise(8, 0.63), 3); // 2.52 + 0.5 -> 3
        assert_eq!(s.discretise(12, 0.74), 1); // shoulder, n = 2: 1.48 + 0.5
        assert_eq!(s.discretise(8, -2.0), 0);
        assert_eq!(s.discretise(8, f32::NAN), 0);
        assert_eq!(s.embedding_width(), 8 + 4 * 5 + 3);
    }

    #[test]
    fn decode_inverts_encode_on_class_centres() {
        let s = space();
        let classes = ControllerClasses([1, 0, 0, 1, 0, 0, 1, 1, 4, 0, 2, 3, 1]);
        let wire = s.decode(&classes);
        assert!(wire.buttons.contains(Buttons::A) && wire.buttons.contains(Buttons::D_UP));
        assert!(!wire.buttons.contains(Buttons::B));
        assert_eq!(
            (wire.main_x, wire.main_y, wire.c_x, wire.c_y),
            (1.0, 0.0, 0.5, 0.75)
        );
        assert_eq!((wire.l_trigger, wire.r_trigger), (0.5, 0.0));
        assert_eq!(s.encode(&wire), classes);
    }

    #[test]
    fn embeddings_are_a_bit_or_a_one_hot() {
        let s = space();
        let mut out = vec![9.0; 5];
        s.embed(9, 3, &mut out);
        assert_eq!(out, [0.0, 0.0, 0.0, 1.0, 0.0]);
        s.embed(9, 200, &mut out);
        assert_eq!(out, [0.0; 5]);
        let mut bit = [9.0];
        s.embed(0, 1, &mut bit);
        assert_eq!(bit, [1.0]);
    }
}
