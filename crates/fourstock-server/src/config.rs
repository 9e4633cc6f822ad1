//! How the daemon serves: the settings `fourstock serve` takes, in one
//! value every session reads.

use std::time::Duration;

use crate::budget::FallbackMode;

/// How the daemon serves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The latency budget of a frame, from reading it to replying.
    pub budget: Duration,
    pub fallback: FallbackMode,
    /// Connections served at once; more are told `Busy`.
    pub max_connections: usize,
    /// Threads that run policy steps.
    pub compute_threads: usize,
    /// The most ports a compute thread steps as one batch, across sessions
    /// that share a model (1: every session steps alone). A batch is only
    /// what is already queued; sessions on different models taken into one
    /// batch are stepped one model after the other.
    pub max_batch: usize,
    /// Seeds every port's sampling stream.
    pub seed: u64,
    /// How long a new connection may take to send its Hello.
    pub handshake_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            budget: Duration::from_millis(4),
            fallback: FallbackMode::RepeatLast,
            max_connections: 1024,
            compute_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_batch: 1,
            seed: 0,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}
