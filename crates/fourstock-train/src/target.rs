//! What a port's controller held, as the classes of the action space the
//! head predicts: 8 button bits, 4 stick-axis classes, 1 shoulder class.

use fourstock_proto::ControllerState;
use fourstock_recurrent::action;
use fourstock_recurrent::head::Decision;

/// One controller as training targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// In [`action::BUTTONS`] order.
    pub buttons: [bool; action::BUTTONS.len()],
    /// Main x, main y, c x, c y: classes `0..action::STICK_CLASSES`.
    pub sticks: [u8; action::STICK_AXES],
    /// The harder-pressed trigger: a class `0..action::SHOULDER_CLASSES`.
    pub shoulder: u8,
}

impl Target {
    /// The classes of `controller`, read as the head's decision reads a
    /// held controller ([`Decision::of`]).
    pub fn of(controller: &ControllerState) -> Target {
        let decision = Decision::of(controller);
        let mut sticks = [0u8; action::STICK_AXES];
        for (slot, &class) in sticks.iter_mut().zip(&decision.classes) {
            *slot = class as u8;
        }
        Target {
            buttons: decision.pressed,
            sticks,
            shoulder: decision.classes[action::STICK_AXES] as u8,
        }
    }

    /// The same classes as the head's deterministic decision.
    pub fn decision(&self) -> Decision {
        let mut classes = [0; action::STICK_AXES + 1];
        for (slot, &class) in classes.iter_mut().zip(&self.sticks) {
            *slot = class as usize;
        }
        classes[action::STICK_AXES] = self.shoulder as usize;
        Decision {
            pressed: self.buttons,
            classes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_proto::Buttons;

    #[test]
    fn classes_follow_the_action_space() {
        let c = ControllerState {
            buttons: Buttons(Buttons::B | Buttons::D_UP),
            main_x: 1.0,
            main_y: 0.5,
            c_x: 0.0,
            c_y: 0.5,
            l_trigger: 0.3,
            r_trigger: 0.8,
        };
        let t = Target::of(&c);
        assert_eq!(
            t.buttons,
            [false, true, false, false, false, false, false, true]
        );
        assert_eq!(t.sticks, [16, 8, 0, 8]);
        assert_eq!(t.shoulder, 3);
    }
}
