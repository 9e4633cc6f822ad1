//! A client of the fourstock daemon, as an emulator-side program speaks to it.
//!
//! [`Client`] connects over TCP, says `Hello` and gets a `Welcome` (or the
//! daemon's refusal), then sends messages, or raw bytes, and reads the
//! daemon's replies one message at a time. Every failure is a
//! [`ClientError`]. `fourstock replay`, `fourstock bench` and the end-to-end
//! tests all speak to the daemon through it.
//!
//! Inside: `connection` frames messages over the socket, `client` speaks the
//! protocol on top of it, `error` says what went wrong.

mod client;
mod connection;
mod error;

pub use client::{hello, Client};
pub use error::ClientError;
