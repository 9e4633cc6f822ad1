//! The listener: accepts connections up to a limit, starts a session for
//! each, and shuts down gracefully, as in mini-redis.
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
use tracing::{error, info, info_span, warn, Instrument};

use crate::compute::ComputePool;
use crate::config::ServerConfig;
use crate::connection::Connection;
use crate::handshake;
use crate::shared::Shared;
use crate::shutdown::Shutdown;

/// Serves clients on `listener` until `shutdown` completes, then waits for
/// every session to close.
pub async fn run(
    listener: TcpListener,
    models: ModelRegistry,
    config: ServerConfig,
    shutdown: impl Future,
) {
    let limit = Arc::new(Semaphore::new(config.max_connections));
    let shared = Arc::new(Shared {
        compute: ComputePool::new(config.compute_threads, config.max_batch),
        models,
        config,
    });
    let (notify_shutdown, _) = broadcast::channel::<()>(1);
    let (session_done, mut all_done) = mpsc::channel::<()>(1);
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, models = ?shared.models.names(), default = shared.models.default_name(),
              budget_us = shared.config.budget.as_micros() as u64,
              compute_threads = shared.config.compute_threads, "listening");
    }

    let accept = async {
        loop {
            let (stream, peer) = match accept(&listener).await {
                Some(accepted) => accepted,
                None => return,
            };
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                tokio::spawn(turn_away(stream, peer));
                continue;
            };
            let shared = shared.clone();
            let shutdown = Shutdown::new(notify_shutdown.subscribe());
            let done = session_done.clone();
            let span = info_span!("session", %peer);
            tokio::spawn(
                async move {
                    handshake::serve(stream, shared, shutdown).await;
                    drop(permit);
                    drop(done);
                }
                .instrument(span),
            );
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
    // The last reference: the compute pool joins its threads on drop.
    drop(shared);
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
