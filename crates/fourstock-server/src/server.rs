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
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, Semaphore};
use tracing::{error, info, warn};

use crate::access::{Access, NoToken};
use crate::compute::ComputePool;
use crate::config::ServerConfig;
use crate::connection::Connection;
use crate::event_loop::{Arrival, EventLoops};
use crate::metrics::ModelFigures;
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
    let figures = Arc::new(ModelFigures::register(&models, &config.telemetry));
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
            let (stream, peer) = match accept(&listener).await {
                Some(accepted) => accepted,
                None => return,
            };
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                shared.count_error(ErrorCode::Busy);
                tokio::spawn(turn_away(stream, peer));
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
    tokio::select! {
        _ = accept => {}
        _ = shutdown => info!("shutting down"),
    }
    drop(notify_shutdown);
    drop(session_done);
    // Every session holds a sender; recv returns None when all have closed.
    let _ = all_done.recv().await;
    info!("all sessions closed");
    // Every session is done, so each loop ends as soon as its intake closes.
    loops.join();
    // The last reference: the compute pool joins its threads on drop.
    drop(shared);
    Ok(())
}

/// Accepts one connection, retrying transient failures with back-off
/// (running out of file descriptors, say). `None` if the listener is broken.
async fn accept(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    let mut backoff = Duration::from_millis(1);
    loop {
        match listener.accept().await {
            Ok(accepted) => return Some(accepted),
            Err(e) if backoff > Duration::from_secs(1) => {
                error!("accept keeps failing, giving up: {e}");
                return None;
            }
            Err(e) => {
                warn!("accept failed, retrying in {backoff:?}: {e}");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
}

async fn turn_away(stream: TcpStream, peer: SocketAddr) {
    warn!(%peer, "at the connection limit: turning a client away");
    let mut conn = Connection::new(stream);
    let _ = conn
        .write_error(
            ErrorCode::Busy,
            "the daemon is at its connection limit; try again later".into(),
        )
        .await;
    conn.close().await;
}
