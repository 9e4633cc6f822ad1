//! A new connection's first exchange: the client's Hello, answered with a
//! Welcome that names each port's model, or with a refusal.
//!
//! The Hello must come within the handshake timeout, and before shutdown,
//! and carry the daemon's token if it has one (see `access`); a client
//! without it is refused before any model is looked at.
//! Each requested port gets a model from the registry (and the player it
//! imitates, for models that imitate one); a budget of 0 us, an unknown
//! model or an unknown player name is refused with a readable error. A
//! Welcome sent, the connection becomes a [`Session`].

use std::rc::Rc;
use std::sync::Arc;

use fourstock_proto::{
    ClientMessage, ErrorCode, Hello, PortAssignment, ServerMessage, Welcome, PROTOCOL_VERSION,
};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info, warn};

use crate::budget::Budget;
use crate::connection::Connection;
use crate::controlled::ControlledPort;
use crate::refusal::Refusal;
use crate::session::Session;
use crate::shared::Shared;
use crate::shutdown::Shutdown;
use crate::stepper::Stepper;

/// Serves one connection to its end: handshake, then the session. Never
/// panics on anything the peer sends. The connection's `slot` is given
/// back before the session is counted closed, so a client that sees the
/// count finds the slot free.
pub(crate) async fn serve(
    stream: TcpStream,
    shared: Arc<Shared>,
    stepper: Rc<Stepper>,
    mut shutdown: Shutdown,
    slot: OwnedSemaphorePermit,
) {
    let mut conn = Connection::new(
        stream,
        shared.config.write_timeout,
        shared.config.telemetry.clone(),
    );
    conn.watch(shutdown.subscribe());
    let hello = tokio::select! {
        read = tokio::time::timeout(shared.config.handshake_timeout, conn.read_message()) => read,
        _ = shutdown.recv() => {
            shared.count_error(ErrorCode::ShuttingDown);
            let _ = conn.write_error(ErrorCode::ShuttingDown, "the daemon is shutting down".into()).await;
            conn.close().await;
            return;
        }
    };
    let hello = match hello {
        Ok(Ok(Some(ClientMessage::Hello(hello)))) => {
            if !shared.config.access.admits(hello.token.as_deref()) {
                let said = if hello.token.is_some() {
                    "a wrong token"
                } else {
                    "no token"
                };
                let refusal = Refusal::new(
                    ErrorCode::Unauthorized,
                    format!("this daemon asks for a token, and the Hello carries {said}"),
                );
                return refuse(&mut conn, &shared, refusal).await;
            }
            hello
        }
        Ok(Ok(None)) => return,
        Ok(Ok(Some(other))) => {
            let refusal = Refusal::new(
                ErrorCode::OutOfOrder,
                format!("expected Hello first, got {}", other.kind()),
            );
            return refuse(&mut conn, &shared, refusal).await;
        }
        Ok(Err(error)) => return refuse(&mut conn, &shared, error.into()).await,
        Err(_) => {
            let refusal = Refusal::new(
                ErrorCode::OutOfOrder,
                format!(
                    "no Hello within {:?} of connecting",
                    shared.config.handshake_timeout
                ),
            );
            return refuse(&mut conn, &shared, refusal).await;
        }
    };
    match welcome(conn, shared.clone(), stepper, hello).await {
        Ok(session) => {
            shared.telemetry().session_opened();
            session.run(shutdown).await;
            drop(slot);
            shared.telemetry().session_closed();
        }
        Err((mut conn, refusal)) => refuse(&mut conn, &shared, refusal).await,
    }
}

/// Tells the client why, and closes.
async fn refuse(conn: &mut Connection, shared: &Shared, refusal: Refusal) {
    warn!(code = ?refusal.code, "refusing client: {}", refusal.message);
    shared.count_error(refusal.code);
    let _ = conn.write_error(refusal.code, refusal.message).await;
    conn.close().await;
}

/// A per-port seed: stable for a given server seed and port.
fn port_seed(server_seed: u64, port: u8) -> u64 {
    server_seed ^ (port as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Answers the Hello with a Welcome and starts the session, or refuses it.
async fn welcome(
    mut conn: Connection,
    shared: Arc<Shared>,
    stepper: Rc<Stepper>,
    hello: Hello,
) -> Result<Session, (Connection, Refusal)> {
    if hello.budget_us == Some(0) {
        let refusal = Refusal::new(ErrorCode::BadHandshake, "a budget of 0 us cannot be met");
        return Err((conn, refusal));
    }
    let budget = Budget::negotiate(shared.config.budget, hello.budget_us);
    let mut ports = Vec::with_capacity(hello.ports.len());
    let mut assignments = Vec::with_capacity(hello.ports.len());
    for request in &hello.ports {
        let (policy, reason) = match shared.models.choose(request) {
            Ok(choice) => choice,
            Err(message) => return Err((conn, Refusal::new(ErrorCode::UnknownModel, message))),
        };
        let player = match policy.player_name(request.player_name.as_deref()) {
            Ok(player) => player,
            Err(message) => {
                let message = format!("port {}: {message}", request.port);
                return Err((conn, Refusal::new(ErrorCode::BadHandshake, message)));
            }
        };
        let info = policy.info();
        assignments.push(PortAssignment {
            port: request.port,
            model: info.name.clone(),
            cell: info.cell.clone(),
            input_size: info.input_size as u32,
            hidden_sizes: info.hidden_sizes.iter().map(|&h| h as u32).collect(),
            delay: info.delay,
            reason,
            reset_on_stock_loss: info.reset.stock_loss,
            reset_on_new_match: info.reset.new_match,
            player_name: player.as_ref().map(|p| p.name.clone()),
        });
        ports.push(ControlledPort::new(
            request.port,
            policy.clone(),
            shared.placements.of(&policy),
            player.as_ref(),
            port_seed(shared.config.seed, request.port),
        ));
    }
    let welcome = ServerMessage::Welcome(Welcome {
        version: PROTOCOL_VERSION,
        budget_us: budget.limit_us(),
        ports: assignments,
    });
    if let Err(e) = conn.write_message(&welcome).await {
        debug!("client left during the handshake: {e}");
        return Err((conn, Refusal::new(ErrorCode::Truncated, "write failed")));
    }
    info!(ports = ?hello.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
          budget_us = budget.limit_us(), "session started");
    Ok(Session::new(conn, shared, stepper, ports, budget))
}
