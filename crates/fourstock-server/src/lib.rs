//! The fourstock daemon: the TCP front end.
//!
//! [`run`] serves clients on a TCP listener (`server`), handing each
//! connection to one of a few event loops (`event_loop`, one thread per
//! core). A connection starts with a handshake (`handshake`) that picks a
//! model per controlled port from the [`fourstock_policy::ModelRegistry`],
//! then becomes a session (`session`): every frame steps each port's
//! recurrent state once, inline on the loop for fast fixed-cost models or
//! on the compute threads ([`compute`]) for the rest, as timed at start-up
//! (`placement`, `stepper`), under the hidden-state rules of
//! [`fourstock_policy::Lifecycle`], and is answered within the latency
//! budget ([`budget`]). The daemon knows models only through the policy
//! contract: it links no model family.
//!
//! Files: `server` (the listener, connection limit and shutdown), [`access`]
//! (the token a daemon beyond loopback asks for),
//! `event_loop` (the loops and which serves a connection), [`config`] (its
//! settings), `shared` (what every session reads), `placement` (where each
//! model steps), `stepper` (a loop's inline batches), `handshake`,
//! `session`, `controlled` (one port's policy, state and delay queue),
//! [`compute`], [`budget`], `connection` (framed reads and writes),
//! `refusal` (why a session ends early), [`metrics`] (counters and latency
//! per session), `shutdown`.

pub mod access;
pub mod budget;
pub mod compute;
pub mod config;
mod connection;
mod controlled;
mod event_loop;
mod handshake;
pub mod metrics;
mod placement;
mod refusal;
mod server;
mod session;
mod shared;
mod shutdown;
mod stepper;

pub use access::{Access, Token};
pub use budget::FallbackMode;
pub use config::{ServerConfig, ThreadHook};
pub use server::{run, ServerError};
