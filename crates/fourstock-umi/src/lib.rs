//! fourstock as a UMI v1 bot: the front end for the Computer Melee
//! Championship, whose arena plays bots against each other through the
//! Universal Melee Interface (the `umi-melee` package is the spec).
//!
//! The bot connects to the arena's Unix socket, declares what it plays
//! from the models it serves, and answers each `obs` batch with one
//! controller row per game. It is built on the policy contract alone: a
//! [`ModelRegistry`](fourstock_policy::ModelRegistry) of whatever families
//! the caller registered, [`Policy::step`](fourstock_policy::Policy) once
//! per game and frame, and each model's reset rule. The arena applies the
//! input delay itself, so unlike the daemon the bot queues nothing.
//!
//! Inside: [`wire`] frames messages, [`message`] is their msgpack, [`frame`]
//! turns UMI's packed frames into protocol frames, `served` picks models
//! and the `hello`, `game` is one game's state, `lane` steps a lane's
//! games on its own thread, `outbox` is the shared writing side, and
//! [`bot`] runs a session.

pub mod bot;
mod error;
pub mod frame;
mod game;
mod lane;
pub mod message;
mod outbox;
mod served;
pub mod wire;

pub use bot::{play, BotConfig};
pub use error::UmiError;
