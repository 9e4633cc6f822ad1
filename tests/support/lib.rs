//! Shared pieces of the end-to-end tests: a daemon on an ephemeral port, a
//! client that speaks the protocol, frames to send, test-only policies, and
//! the daemon's counts as a scrape reads them; [`slp`] makes replays by hand.

pub mod client;
pub mod fixtures;
pub mod metrics;
pub mod policies;
pub mod server;
pub mod shared;
pub mod slp;

/// Every socket test runs under this limit, so a hang fails fast.
pub const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
