//! Game state to features, following slippi-ai's encoding so its lessons
//! carry over.
//!
//! Layout, in order:
//! - the stage, one-hot over 64 ids;
//! - the controlled player's block, then `opponents` opponent blocks (other
//!   leaders in port order; Nana is skipped; a missing opponent is zeros);
//! - the controlled player's controller as held on this frame (for a bot,
//!   its own previous output as the game applied it), discretised as the
//!   head's action space: 8 buttons, 4 stick axes of 17 classes, the
//!   shoulder of 5 classes.
//!
//! A player block: action state one-hot over 400 (ids 0..=398, then one
//! "unknown" bucket for every id from 0x18F up), character one-hot over 33,
//! jumps left one-hot over 7 (clamped to 6), then x and y times 0.05 clipped
//! to +-10, percent and shield times 0.01, facing +-1, on ground and
//! invulnerable as 0/1, and, if the model reads them, the five speeds times
//! 0.5.

use fourstock_proto::{Frame, PlayerFrame};

use crate::action;
use crate::config::FeatureConfig;
use crate::PolicyError;

pub const STAGES: usize = 64;
/// 0x18F known action states plus the unknown bucket.
pub const ACTIONS: usize = 0x18F + 1;
pub const UNKNOWN_ACTION: usize = ACTIONS - 1;
pub const CHARACTERS: usize = 0x21;
pub const JUMPS: usize = 7;
/// x, y, percent, shield, facing, on ground, invulnerable.
pub const SCALARS: usize = 7;
pub const SPEEDS: usize = 5;

pub const POSITION_SCALE: f32 = 0.05;
pub const POSITION_CLIP: f32 = 10.0;
pub const PERCENT_SCALE: f32 = 0.01;
pub const SHIELD_SCALE: f32 = 0.01;
pub const SPEED_SCALE: f32 = 0.5;

/// Writes feature vectors for one model's feature config.
#[derive(Clone, Debug)]
pub struct Featurizer {
    speeds: bool,
    opponents: usize,
}

impl Featurizer {
    pub fn new(config: &FeatureConfig) -> Featurizer {
        Featurizer {
            speeds: config.speeds,
            opponents: config.opponents,
        }
    }

    /// Width of one player block.
    pub fn player_size(&self) -> usize {
        ACTIONS + CHARACTERS + JUMPS + SCALARS + if self.speeds { SPEEDS } else { 0 }
    }

    /// Offset of the controlled player's block.
    pub fn player_at(&self, index: usize) -> usize {
        STAGES + index * self.player_size()
    }

    /// Offset of the previous-controller block.
    pub fn controller_at(&self) -> usize {
        self.player_at(1 + self.opponents)
    }

    /// Width of the whole feature vector.
    pub fn size(&self) -> usize {
        self.controller_at() + action::SIZE
    }

    /// Writes the features of `frame` seen from `port` into `out`, which
    /// must be [`Featurizer::size`] long. Allocates nothing.
    pub fn write(&self, frame: &Frame, port: u8, out: &mut [f32]) -> Result<(), PolicyError> {
        debug_assert_eq!(out.len(), self.size());
        out.fill(0.0);
        let me = frame.player(port).ok_or(PolicyError::MissingPort(port))?;
        if (frame.stage as usize) < STAGES {
            out[frame.stage as usize] = 1.0;
        }
        let size = self.player_size();
        self.write_player(me, &mut out[self.player_at(0)..][..size]);
        let mut opponents = frame
            .players
            .iter()
            .filter(|p| !p.follower && p.port != port);
        for index in 1..=self.opponents {
            match opponents.next() {
                Some(p) => self.write_player(p, &mut out[self.player_at(index)..][..size]),
                None => break,
            }
        }
        write_controller(me, &mut out[self.controller_at()..][..action::SIZE]);
        Ok(())
    }

    fn write_player(&self, p: &PlayerFrame, out: &mut [f32]) {
        let action = (p.action_state as usize).min(UNKNOWN_ACTION);
        out[action] = 1.0;
        let mut at = ACTIONS;
        if (p.character as usize) < CHARACTERS {
            out[at + p.character as usize] = 1.0;
        }
        at += CHARACTERS;
        out[at + (p.jumps_left as usize).min(JUMPS - 1)] = 1.0;
        at += JUMPS;
        let position = |v: f32| (v * POSITION_SCALE).clamp(-POSITION_CLIP, POSITION_CLIP);
        let scalars = [
            position(p.x),
            position(p.y),
            p.percent * PERCENT_SCALE,
            p.shield * SHIELD_SCALE,
            if p.facing_right { 1.0 } else { -1.0 },
            p.on_ground as u8 as f32,
            p.invulnerable as u8 as f32,
        ];
        out[at..at + SCALARS].copy_from_slice(&scalars);
        at += SCALARS;
        if self.speeds {
            let speeds = [
                p.speed_air_x_self,
                p.speed_ground_x_self,
                p.speed_y_self,
                p.speed_x_attack,
                p.speed_y_attack,
            ];
            for (slot, speed) in out[at..at + SPEEDS].iter_mut().zip(speeds) {
                *slot = speed * SPEED_SCALE;
            }
        }
    }
}

/// The controller a player held, as the action space's one-hots.
fn write_controller(p: &PlayerFrame, out: &mut [f32]) {
    let c = &p.controller;
    for (slot, &bit) in out.iter_mut().zip(action::BUTTONS.iter()) {
        *slot = c.buttons.contains(bit) as u8 as f32;
    }
    for (axis, value) in action::stick_axes(c).into_iter().enumerate() {
        let at = action::STICKS_AT + axis * action::STICK_CLASSES;
        out[at + action::stick_class(value)] = 1.0;
    }
    out[action::SHOULDER_AT + action::shoulder_class(action::shoulder(c))] = 1.0;
}
