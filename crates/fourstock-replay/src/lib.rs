//! Slippi replays (.slp) read into the messages a live client sends.
//!
//! [`read_replay`] parses a replay with peppi and turns it into the session
//! an emulator-side client would have sent the daemon: a `MatchStart`, one
//! `Frame` per frame number (netplay rollback re-sends dropped), and a
//! `MatchEnd` when the game ended, together with a [`ReplaySummary`] for
//! `fourstock inspect`. A bad file is a [`ReplayError`], never a crash.
//!
//! Inside: `parse` guards peppi, `contain` catches its panics quietly, `frames` and `controller` convert frame
//! data, [`stage`] follows Randall and Fountain of Dreams' platforms,
//! `summary` describes a game, `names` names how a game ended, `dir` finds
//! replay files, `replay` ties them together. Melee's ids come from
//! [`fourstock_proto::melee`].

mod contain;
mod controller;
mod dir;
mod error;
mod frames;
mod names;
mod parse;
mod replay;
pub mod stage;
mod summary;

pub use dir::replay_files;
pub use error::{Reason, ReplayError};
pub use parse::MAX_REPLAY_BYTES;
pub use replay::{read_replay, read_replay_bytes, Replay};
pub use stage::{randall, randall_position, RANDALL_CYCLE};
pub use summary::{
    GameEnd, PlayerKind, PlayerSummary, ReplaySummary, RulesetFit, StageSummary, StockLoss,
};
