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
//!
//! Percent is floored first: the whole percent is what the game shows and
//! what UMI frames and slippi-ai carry, while replays and libmelee also
//! hold the fraction stale moves leave. Flooring makes every front end
//! feed a model the same value.

use fourstock_proto::melee;
use fourstock_proto::validate::PORTS;
use fourstock_proto::{Frame, PlayerFrame};

use crate::action;
use crate::config::FeatureConfig;
use fourstock_policy::PolicyError;

pub const STAGES: usize = melee::STAGES as usize;
/// 0x18F known action states plus the unknown bucket.
pub const ACTIONS: usize = 0x18F + 1;
pub const UNKNOWN_ACTION: usize = ACTIONS - 1;
pub const CHARACTERS: usize = melee::CHARACTERS as usize;
pub const JUMPS: usize = 7;
/// x, y, percent, shield, facing, on ground, invulnerable.
pub const SCALARS: usize = 7;
pub const SPEEDS: usize = 5;

/// Offsets inside a player block.
pub const ACTION_AT: usize = 0;
pub const CHARACTER_AT: usize = ACTION_AT + ACTIONS;
pub const JUMPS_AT: usize = CHARACTER_AT + CHARACTERS;
pub const SCALARS_AT: usize = JUMPS_AT + JUMPS;
/// Only for models that read speeds.
pub const SPEEDS_AT: usize = SCALARS_AT + SCALARS;

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
        SPEEDS_AT + if self.speeds { SPEEDS } else { 0 }
    }

    /// Offset of a player block: 0 for the controlled player, 1.. for the
    /// opponents.
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
    /// must be [`Featurizer::size`] long (a shorter slice panics, as
    /// `copy_from_slice` does). Allocates nothing.
    pub fn write(&self, frame: &Frame, port: u8, out: &mut [f32]) -> Result<(), PolicyError> {
        assert_eq!(out.len(), self.size(), "feature buffer length");
        out.fill(0.0);
        self.emit(frame, port, &mut Dense(out))
    }

    /// The same features as [`Featurizer::write`], as the (index, value)
    /// pairs that are not zero, in increasing index order, appended to
    /// `out`. A serving step projects these without ever building the
    /// mostly-zero vector (`fourstock_nn::sparse`).
    pub fn write_sparse(
        &self,
        frame: &Frame,
        port: u8,
        out: &mut Vec<(u32, f32)>,
    ) -> Result<(), PolicyError> {
        self.emit(frame, port, &mut Sparse(out))
    }

    /// Every feature of the layout, in index order, into `sink`.
    fn emit(&self, frame: &Frame, port: u8, sink: &mut impl Sink) -> Result<(), PolicyError> {
        let me = frame.player(port).ok_or(PolicyError::MissingPort(port))?;
        if (frame.stage as usize) < STAGES {
            sink.put(frame.stage as usize, 1.0);
        }
        self.emit_player(me, self.player_at(0), sink);
        // Port order, whatever order the frame lists players in.
        let mut opponents = PORTS
            .filter(|&other| other != port)
            .filter_map(|other| frame.player(other));
        for index in 1..=self.opponents {
            match opponents.next() {
                Some(p) => self.emit_player(p, self.player_at(index), sink),
                None => break,
            }
        }
        emit_controller(me, self.controller_at(), sink);
        Ok(())
    }

    /// One player's block, starting at feature `at`.
    fn emit_player(&self, p: &PlayerFrame, at: usize, sink: &mut impl Sink) {
        sink.put(
            at + ACTION_AT + (p.action_state as usize).min(UNKNOWN_ACTION),
            1.0,
        );
        if (p.character as usize) < CHARACTERS {
            sink.put(at + CHARACTER_AT + p.character as usize, 1.0);
        }
        sink.put(at + JUMPS_AT + (p.jumps_left as usize).min(JUMPS - 1), 1.0);
        let position = |v: f32| (v * POSITION_SCALE).clamp(-POSITION_CLIP, POSITION_CLIP);
        let scalars = [
            position(p.x),
            position(p.y),
            p.percent.floor() * PERCENT_SCALE,
            p.shield * SHIELD_SCALE,
            if p.facing_right { 1.0 } else { -1.0 },
            p.on_ground as u8 as f32,
            p.invulnerable as u8 as f32,
        ];
        for (k, value) in scalars.into_iter().enumerate() {
            sink.put(at + SCALARS_AT + k, value);
        }
        if self.speeds {
            let speeds = [
                p.speed_air_x_self,
                p.speed_ground_x_self,
                p.speed_y_self,
                p.speed_x_attack,
                p.speed_y_attack,
            ];
            for (k, speed) in speeds.into_iter().enumerate() {
                sink.put(at + SPEEDS_AT + k, speed * SPEED_SCALE);
            }
        }
    }
}

/// Where [`Featurizer::emit`] puts each feature. Every index is put at
/// most once, in increasing order; an index never put is zero.
trait Sink {
    fn put(&mut self, index: usize, value: f32);
}

/// A whole feature vector, zeroed beforehand.
struct Dense<'a>(&'a mut [f32]);

impl Sink for Dense<'_> {
    fn put(&mut self, index: usize, value: f32) {
        self.0[index] = value;
    }
}

/// The non-zero features only; a zero (or -0.0) is left out, as the dense
/// vector's sparse projection skips it.
struct Sparse<'a>(&'a mut Vec<(u32, f32)>);

impl Sink for Sparse<'_> {
    fn put(&mut self, index: usize, value: f32) {
        if value != 0.0 {
            self.0.push((index as u32, value));
        }
    }
}

/// The controller a player held, as the action space's one-hots, starting
/// at feature `at`.
fn emit_controller(p: &PlayerFrame, at: usize, sink: &mut impl Sink) {
    let c = &p.controller;
    for (k, &bit) in action::BUTTONS.iter().enumerate() {
        sink.put(at + k, c.buttons.contains(bit) as u8 as f32);
    }
    for (axis, value) in action::stick_axes(c).into_iter().enumerate() {
        let class = action::STICKS_AT + axis * action::STICK_CLASSES + action::stick_class(value);
        sink.put(at + class, 1.0);
    }
    sink.put(
        at + action::SHOULDER_AT + action::shoulder_class(c.shoulder()),
        1.0,
    );
}
