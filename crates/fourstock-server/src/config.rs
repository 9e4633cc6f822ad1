//! How the daemon serves: the settings `fourstock serve` takes, in one
//! value every session reads.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use fourstock_telemetry::Telemetry;

use crate::access::Access;
use crate::budget::FallbackMode;

/// How the daemon serves.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The latency budget of a frame, from reading it to replying.
    pub budget: Duration,
    pub fallback: FallbackMode,
    /// Connections served at once; more are told `Busy`.
    pub max_connections: usize,
    /// Threads that read frames, step inline models and send replies, each
    /// serving its share of the connections.
    pub event_loops: usize,
    /// Whether the event loops poll their sockets without ever sleeping
    /// (each keeps a core busy); for one bot beside Dolphin.
    pub busy_poll: bool,
    /// Whether fast fixed-cost models may step inline on the event loops
    /// (see `placement`); `false` sends every step to the compute threads.
    pub inline_steps: bool,
    /// Threads that step the models not stepped inline.
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
    /// How long a session may go without a message from its client before
    /// it is ended with an Error; `None`: forever. Dolphin sends a frame
    /// every 16.7 ms in a game, but nothing in the menus between games.
    pub idle_timeout: Option<Duration>,
    /// How long a write may wait for a client that does not read; past it
    /// the session ends and its slot is freed.
    pub write_timeout: Duration,
    /// Who may open a session, and so where the daemon may listen.
    pub access: Access,
    /// Runs on each event loop's thread as it starts (to raise its
    /// scheduling priority, say).
    pub on_loop_start: Option<ThreadHook>,
    /// Where the daemon counts what an operator scrapes (frames, replies,
    /// steps, resets, errors, sessions); whoever serves `/metrics` holds
    /// another reference.
    pub telemetry: Arc<Telemetry>,
}

/// Code a thread runs on itself as it starts.
#[derive(Clone)]
pub struct ThreadHook(pub Arc<dyn Fn() + Send + Sync>);

impl fmt::Debug for ThreadHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ThreadHook")
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            budget: Duration::from_millis(4),
            fallback: FallbackMode::RepeatLast,
            max_connections: 1024,
            event_loops: cores(),
            busy_poll: false,
            inline_steps: true,
            compute_threads: cores(),
            max_batch: 1,
            seed: 0,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(300)),
            write_timeout: crate::connection::WRITE_TIMEOUT,
            access: Access::Loopback,
            on_loop_start: None,
            telemetry: Arc::new(Telemetry::new()),
        }
    }
}

/// The cores this process may use: the arena's `UMI_CORES` if set, else
/// the CPU limit (affinity and cgroup quota), else 1; see
/// [`fourstock_policy::cores`].
fn cores() -> usize {
    fourstock_policy::cores::cores().count
}
