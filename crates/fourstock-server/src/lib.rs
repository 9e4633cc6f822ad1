//! The fourstock daemon: the TCP front end.
//!
//! [`run`] serves clients on a TCP listener (`server`). Each connection
//! starts with a handshake (`handshake`) that picks a model per
//! controlled port from the [`fourstock_policy::ModelRegistry`], then
//! becomes a session (`session`): every frame steps each port's
//! recurrent state once on the compute threads ([`compute`]), under the
//! hidden-state rules of [`fourstock_policy::Lifecycle`], and is answered
//! within the latency budget ([`budget`]). The daemon knows models only
//! through the policy contract: it links no model family.
//!
//! Files: `server` (the listener, connection limit and shutdown),
//! [`config`] (its settings), `shared` (what every session reads),
//! `handshake`, [`session`], `controlled` (one port's policy, state and
//! delay queue), [`compute`], [`budget`], `connection` (framed reads and
//! writes), `refusal` (why a session ends early), [`metrics`] (counters
//! and latency per session), `shutdown`.

pub mod budget;
pub mod compute;
pub mod config;
mod connection;
mod controlled;
mod event_loop;
mod handshake;
pub mod metrics;
pub mod placement;
mod refusal;
mod server;
mod session;
mod shared;
mod shutdown;
mod stepper;

pub use budget::FallbackMode;
pub use config::{ServerConfig, ThreadHook};
pub use server::run;
