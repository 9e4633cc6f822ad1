//! One frame of game state in slippi-ai's own units, from the controlled
//! player's point of view: the featurizer's input.
//!
//! Ids are libmelee's internal enums (character, stage), as slippi-ai's
//! parsed games store them; `percent` is the integer slippi-ai stores. The
//! `wire` module builds an observation from a protocol frame.

/// One player: p0 is the controlled player, p1 the opponent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PlayerObservation {
    /// libmelee's internal character id (`melee.Character`).
    pub character: u8,
    /// Action state id.
    pub action: u16,
    pub x: f32,
    pub y: f32,
    /// Damage, as the integer slippi-ai stores (uint16).
    pub percent: u16,
    /// True when facing right.
    pub facing: bool,
    pub invulnerable: bool,
    pub jumps_left: u8,
    pub shield_strength: f32,
    pub on_ground: bool,
}

/// What the policy sees of one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observation {
    /// libmelee's internal stage id (`melee.Stage`).
    pub stage: u8,
    pub p0: PlayerObservation,
    pub p1: PlayerObservation,
    /// Randall's (x, y) on Yoshi's Story; zeros elsewhere.
    pub randall: [f32; 2],
    /// Fountain of Dreams' (left, right) platform heights; zeros elsewhere.
    pub fod_platforms: [f32; 2],
}
