//! The listener: accepts connections up to a limit, hands each to an event
//! loop (`event_loop`), and shuts down gracefully, as in mini-redis.
//!
//! A connection over the limit is told `Busy` and closed rather than left
//! waiting. On shutdown the listener stops accepting, every session answers
//! the frames it accepted and says `ShuttingDown`, and [`run`] returns once
//! all of them have closed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fourstock_policy::ModelRegistry;
use fourstock_proto::ErrorCode;
use fourstock_telemetry::{ModelTable, Telemetry};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tracing::{debug, error, info, warn};

use crate::access::{Access, NoToken};
use crate::compute::ComputePool;
use crate::config::ServerConfig;
use crate::connection::Connection;
use crate::event_loop::{Arrival, EventLoops};
use crate::placement::Placements;
use crate::shared::Shared;
use crate::shutdown::Shutdown;

/// Why the daemon could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Access(#[from] NoToken),
    #[error("reading the listener's address: {0}")]
    Listener(std::io::Error),
    #[error("starting the event loops: {0}")]
    EventLoops(std::io::Error),
    #[error("the listener failed: {0}")]
    Accept(std::io::Error),
}

/// Serves clients on `listener` until `shutdown` completes, then waits for
/// every session to close. Refuses to start on an address beyond loopback
/// without a token (see [`crate::Access`]).
pub async fn run(
    listener: TcpListener,
    models: ModelRegistry,
    config: ServerConfig,
    shutdown: impl Future,
) -> Result<(), ServerError> {
    let addr = listener.local_addr().map_err(ServerError::Listener)?;
    config.access.permits(addr)?;
    if matches!(config.access, Access::Insecure) && !addr.ip().is_loopback() {
        warn!(%addr, "--insecure-no-auth: serving WITHOUT A TOKEN beyond loopback; \
              anyone who can reach this address can use the daemon");
    }
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let figures = Arc::new(ModelTable::register(
        &config.telemetry,
        models
            .names()
            .into_iter()
            .filter_map(|name| models.get(name))
            .map(|policy| (policy.info().name.as_str(), policy.parameters())),
    ));
    let shared = Arc::new(Shared {
        compute: ComputePool::new(config.compute_threads, config.max_batch, figures.clone()),
        placements: Placements::decide(&models, config.budget, config.inline_steps),
        figures,
        models,
        config,
    });
    let loops =
        EventLoops::start(shared.config.event_loops, &shared).map_err(ServerError::EventLoops)?;
    let (notify_shutdown, _) = broadcast::channel::<()>(1);
    let (session_done, mut all_done) = mpsc::channel::<()>(1);
    info!(%addr, models = ?shared.models.names(), default = shared.models.default_name(),
          budget_us = shared.config.budget.as_micros() as u64,
          event_loops = shared.config.event_loops,
          compute_threads = shared.config.compute_threads,
          token = matches!(shared.config.access, Access::Token(_)), "listening");

    let accept = async {
        loop {
            let (stream, peer) = accept(&listener, shared.telemetry()).await?;
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                shared.count_error(ErrorCode::Busy);
                tokio::spawn(turn_away(stream, peer, shared.config.telemetry.clone()));
                continue;
            };
            let stream = match stream.into_std() {
                Ok(stream) => stream,
                Err(e) => {
                    warn!(%peer, "handing a connection to an event loop: {e}");
                    continue;
                }
            };
            loops.assign(Arrival {
                stream,
                peer,
                shutdown: Shutdown::new(notify_shutdown.subscribe()),
                permit,
                done: session_done.clone(),
            });
        }
    };
    // The accept loop ends only when the listener breaks; the sessions
    // then end as at shutdown, and the daemon reports the failure.
    let broken: Option<std::io::Result<()>> = tokio::select! {
        result = accept => Some(result),
        _ = shutdown => {
            info!("shutting down");
            None
        }
    };
    drop(notify_shutdown);
    drop(session_done);
    // Every session holds a sender; recv returns None when all have closed.
    let _ = all_done.recv().await;
    info!("all sessions closed");
    // Every session is done, so each loop ends as soon as its intake closes.
    loops.join();
    // The last reference: the compute pool joins its threads on drop.
    drop(shared);
    match broken {
        Some(Err(e)) => Err(ServerError::Accept(e)),
        _ => Ok(()),
    }
}

/// The longest wait between two accepts that failed for want of resources.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts one connection. A failure that leaves the listener sound is
/// retried for as long as it lasts: a connection that failed before it
/// was accepted is skipped at once, and running out of file descriptors,
/// socket buffers or memory backs off from 1 ms to at most
/// [`MAX_ACCEPT_BACKOFF`] (pending connections wait in the queue, and the
/// caller still hears shutdown). Any other failure means the listener
/// itself is broken, and is returned.
async fn accept(
    listener: &TcpListener,
    telemetry: &Telemetry,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    let mut backoff = Duration::from_millis(1);
    let mut failures = 0u64;
    loop {
        let e = match listener.accept().await {
            Ok(accepted) => return Ok(accepted),
            Err(e) => e,
        };
        telemetry.accept_failed();
        match AcceptFailure::of(&e) {
            AcceptFailure::Connection => debug!("a connection failed before it was accepted: {e}"),
            AcceptFailure::Resources => {
                failures += 1;
                // Every failure while backing off, then one a minute.
                if backoff < MAX_ACCEPT_BACKOFF || failures.is_multiple_of(60) {
                    warn!(failures, "accept failed, retrying in {backoff:?}: {e}");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
            }
            AcceptFailure::Listener => {
                error!("the listener failed: {e}");
                return Err(e);
            }
        }
    }
}

/// What a failed `accept` says about the listener.
#[derive(Debug, PartialEq, Eq)]
enum AcceptFailure {
    /// One pending connection failed (the peer gave up, a firewall said
    /// no); the next may not. Linux reports these from `accept` and asks
    /// callers to retry.
    Connection,
    /// The process or the machine is out of something a socket needs.
    Resources,
    /// The listening socket itself is unusable.
    Listener,
}

impl AcceptFailure {
    fn of(e: &std::io::Error) -> AcceptFailure {
        match e.raw_os_error() {
            Some(
                libc::ECONNABORTED
                | libc::ECONNRESET
                | libc::EPROTO
                | libc::EPERM
                | libc::EINTR
                | libc::ETIMEDOUT
                | libc::ENETDOWN
                | libc::ENETUNREACH
                | libc::EHOSTDOWN
                | libc::EHOSTUNREACH
                | libc::ENONET
                | libc::ENOPROTOOPT
                | libc::EOPNOTSUPP,
            ) => AcceptFailure::Connection,
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                AcceptFailure::Resources
            }
            _ => AcceptFailure::Listener,
        }
    }
}

async fn turn_away(stream: TcpStream, peer: SocketAddr, telemetry: Arc<Telemetry>) {
    warn!(%peer, "at the connection limit: turning a client away");
    let mut conn = Connection::new(stream, crate::connection::WRITE_TIMEOUT, telemetry);
    let _ = conn
        .write_error(
            ErrorCode::Busy,
            "the daemon is at its connection limit; try again later".into(),
        )
        .await;
    conn.close().await;
}

#[cfg(test)]
mod tests {
    use super::AcceptFailure;

    fn of(code: i32) -> AcceptFailure {
        AcceptFailure::of(&std::io::Error::from_raw_os_error(code))
    }

    #[test]
    fn accept_failures_are_told_apart() {
        assert_eq!(of(libc::EMFILE), AcceptFailure::Resources);
        assert_eq!(of(libc::ENFILE), AcceptFailure::Resources);
        assert_eq!(of(libc::ENOBUFS), AcceptFailure::Resources);
        assert_eq!(of(libc::ECONNABORTED), AcceptFailure::Connection);
        assert_eq!(of(libc::EPERM), AcceptFailure::Connection);
        assert_eq!(of(libc::EBADF), AcceptFailure::Listener);
        assert_eq!(of(libc::EINVAL), AcceptFailure::Listener);
        assert_eq!(
            AcceptFailure::of(&std::io::Error::other("no os error")),
            AcceptFailure::Listener
        );
    }
}
