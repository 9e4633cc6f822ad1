//! slippi-ai's observation filter (`observation.animation.mask`): the
//! opponent's neutral, forward and backward techs look alike for their
//! first frames, so a policy trained with the filter sees all three as a
//! neutral tech until the action has lasted 7 frames.
//!
//! This is the per-frame form slippi-ai's agents run: a counter of how many
//! frames in a row the opponent's action has been unchanged (0 on the first
//! frame of an action), reset at every new game.

use fourstock_proto::melee::{BACKWARD_TECH, FORWARD_TECH, NEUTRAL_TECH};

/// Frames (0-indexed) during which a tech is masked.
pub const TECH_MASK_WINDOW: u32 = 7;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TechMask {
    prev_action: u16,
    count: u32,
}

impl TechMask {
    /// A filter at the start of a game.
    pub fn new() -> TechMask {
        TechMask::default()
    }

    /// Feeds this frame's opponent action; returns what the policy sees.
    pub fn apply(&mut self, action: u16) -> u16 {
        if action == self.prev_action {
            self.count = self.count.saturating_add(1).min(1 << 20);
        } else {
            self.count = 0;
            self.prev_action = action;
        }
        let is_tech = matches!(action, NEUTRAL_TECH | FORWARD_TECH | BACKWARD_TECH);
        if is_tech && self.count < TECH_MASK_WINDOW {
            NEUTRAL_TECH
        } else {
            action
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techs_read_as_neutral_for_seven_frames() {
        let mut mask = TechMask::new();
        assert_eq!(mask.apply(14), 14);
        let seen: Vec<u16> = (0..9).map(|_| mask.apply(FORWARD_TECH)).collect();
        assert_eq!(seen[..7], [NEUTRAL_TECH; 7]);
        assert_eq!(seen[7..], [FORWARD_TECH; 2]);
        // A new action restarts the count.
        assert_eq!(mask.apply(BACKWARD_TECH), NEUTRAL_TECH);
        assert_eq!(
            mask,
            TechMask {
                prev_action: BACKWARD_TECH,
                count: 0
            }
        );
        // Other actions pass through.
        assert_eq!(mask.apply(0x2C), 0x2C);
    }
}
