//! The discrete controller action space shared by the head (what a policy
//! outputs) and the featurizer (the previous controller it reads):
//! 8 buttons, 4 stick axes of 17 classes, 1 analog shoulder of 5 classes.

use fourstock_proto::{Buttons, ControllerState};

/// The buttons a policy presses, in head order.
pub const BUTTONS: [u16; 8] = Buttons::PLAYED;
/// Classes of one stick axis: 0..=1 in steps of 1/16.
pub const STICK_CLASSES: usize = 17;
/// Stick axes in head order: main x, main y, c x, c y.
pub const STICK_AXES: usize = 4;
/// Classes of the analog shoulder: 0..=1 in steps of 1/4.
pub const SHOULDER_CLASSES: usize = 5;
/// Width of the whole action space: 8 + 4 * 17 + 5 = 81.
pub const SIZE: usize = BUTTONS.len() + STICK_AXES * STICK_CLASSES + SHOULDER_CLASSES;
/// The outputs a decision is made on: each button, each stick axis and
/// the shoulder, 13.
pub const OUTPUTS: usize = BUTTONS.len() + STICK_AXES + 1;
/// Offset of the first stick axis.
pub const STICKS_AT: usize = BUTTONS.len();
/// Offset of the shoulder classes.
pub const SHOULDER_AT: usize = STICKS_AT + STICK_AXES * STICK_CLASSES;

/// Where categorical head `head`'s logits start and how many there are:
/// heads 0 to 3 are the stick axes (main x, main y, c x, c y), head 4 the
/// shoulder.
pub fn class_span(head: usize) -> (usize, usize) {
    if head < STICK_AXES {
        (STICKS_AT + head * STICK_CLASSES, STICK_CLASSES)
    } else {
        (SHOULDER_AT, SHOULDER_CLASSES)
    }
}

/// The class of a stick value (0..=1).
pub fn stick_class(value: f32) -> usize {
    class(value, STICK_CLASSES)
}

/// The class of a shoulder value (0..=1).
pub fn shoulder_class(value: f32) -> usize {
    class(value, SHOULDER_CLASSES)
}

fn class(value: f32, classes: usize) -> usize {
    let top = (classes - 1) as f32;
    if value.is_nan() {
        return 0;
    }
    (value.clamp(0.0, 1.0) * top).round() as usize
}

/// The value a stick class stands for.
pub fn stick_value(class: usize) -> f32 {
    class as f32 / (STICK_CLASSES - 1) as f32
}

/// The value a shoulder class stands for.
pub fn shoulder_value(class: usize) -> f32 {
    class as f32 / (SHOULDER_CLASSES - 1) as f32
}

/// The stick axes of a controller in head order.
pub fn stick_axes(c: &ControllerState) -> [f32; STICK_AXES] {
    [c.main_x, c.main_y, c.c_x, c.c_y]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_to_the_nearest_step_and_clamp() {
        assert_eq!(SIZE, 81);
        assert_eq!(stick_class(0.5), 8);
        assert_eq!(stick_class(0.0), 0);
        assert_eq!(stick_class(1.0), 16);
        assert_eq!(stick_class(0.53), 8);
        assert_eq!(stick_class(0.54), 9);
        assert_eq!(stick_class(-3.0), 0);
        assert_eq!(stick_class(f32::NAN), 0);
        assert_eq!(shoulder_class(0.3), 1);
        assert_eq!(shoulder_class(2.0), 4);
        for k in 0..STICK_CLASSES {
            assert_eq!(stick_class(stick_value(k)), k);
        }
    }
}
