//! The fourstock daemon.
//!
//! [`run`] serves clients on a TCP listener. Each connection is a session
//! ([`session`]): a handshake picks a model per controlled port
//! ([`models`]), then every frame steps each port's recurrent state once on
//! the compute threads ([`compute`]), under the hidden-state rules of
//! [`lifecycle`], and is answered within the latency budget ([`budget`]).
//! Counters and latency per session live in [`metrics`].

pub mod budget;
pub mod compute;
mod connection;
mod controlled;
pub mod lifecycle;
pub mod metrics;
pub mod models;
mod server;
mod session;
mod shutdown;

pub use budget::FallbackMode;
pub use models::ModelRegistry;
pub use server::{run, ServerConfig};
