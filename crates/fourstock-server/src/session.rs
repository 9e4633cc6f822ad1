//! One client connection, from handshake to goodbye.
//!
//! A session reads messages as they come, steps its ports on the compute
//! threads one frame at a time, in order, and answers every frame exactly
//! once: with the computed action if inference finishes within the budget,
//! else with the fallback at the deadline while the step goes on, so the
//! recurrent state still advances in order. Rollback re-sends are answered
//! from a cache of recent replies. On bad input, end of stream or shutdown,
//! every frame already accepted is answered before the connection closes.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use fourstock_proto::{
    ClientMessage, ControllerState, DecodeError, ErrorCode, Frame, FrameReply, Hello,
    PortAssignment, PortOutput, ServerMessage, Welcome, PROTOCOL_VERSION,
};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::budget::Budget;
use crate::compute::{StepDone, StepJob};
use crate::connection::{Connection, ReadError};
use crate::controlled::ControlledPort;
use crate::lifecycle::{Lifecycle, ResetCause, Verdict};
use crate::metrics::SessionMetrics;
use crate::server::Shared;
use crate::shutdown::Shutdown;

/// How many recent replies are kept for rollback re-sends. Slippi rolls back
/// at most a few frames; this is ample.
const REPLY_CACHE: usize = 256;

/// How many frames may wait for a slow policy before the session is ended:
/// ten seconds of play. Past that the bot is hopelessly behind the game.
const MAX_BACKLOG: usize = 600;

/// Why a session ends early: the code and text sent to the client.
struct Refusal {
    code: ErrorCode,
    message: String,
}

impl Refusal {
    fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

impl From<DecodeError> for Refusal {
    fn from(error: DecodeError) -> Refusal {
        Refusal::new(error.code(), error.to_string())
    }
}

impl From<ReadError> for Refusal {
    fn from(error: ReadError) -> Refusal {
        match error {
            ReadError::Decode(e) => e.into(),
            ReadError::Io(e) => Refusal::new(ErrorCode::Truncated, format!("read failed: {e}")),
        }
    }
}

/// A frame read but not yet answered.
enum Pending {
    Step {
        seq: u64,
        frame: i32,
        read_at: Instant,
        give_up_at: Instant,
        resets: Vec<bool>,
        new_match: bool,
        /// The actions due, once the step is done.
        actions: Option<Vec<ControllerState>>,
    },
    Resend {
        frame: i32,
        read_at: Instant,
    },
}

/// A frame accepted for stepping, waiting for the compute threads.
struct Step {
    seq: u64,
    frame: Arc<Frame>,
    resets: Vec<bool>,
}

/// The replies already sent, by frame number, for rollback re-sends.
#[derive(Default)]
struct ReplyCache {
    by_frame: HashMap<i32, FrameReply>,
    order: VecDeque<i32>,
}

impl ReplyCache {
    fn insert(&mut self, reply: FrameReply) {
        if self.by_frame.insert(reply.frame, reply.clone()).is_none() {
            self.order.push_back(reply.frame);
            if self.order.len() > REPLY_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.by_frame.remove(&old);
                }
            }
        }
    }

    fn get(&self, frame: i32) -> Option<&FrameReply> {
        self.by_frame.get(&frame)
    }

    fn clear(&mut self) {
        self.by_frame.clear();
        self.order.clear();
    }
}

/// The state of one connection after its handshake.
pub(crate) struct Session {
    peer: SocketAddr,
    conn: Connection,
    shared: Arc<Shared>,
    ports: Vec<ControlledPort>,
    budget: Budget,
    lifecycle: Lifecycle,
    /// Every frame read and not yet answered, in arrival order.
    pending: VecDeque<Pending>,
    /// Frames accepted for stepping and not yet stepped, in order; the first
    /// is in flight when `in_flight` is set.
    steps: VecDeque<Step>,
    in_flight: Option<oneshot::Receiver<StepDone>>,
    cache: ReplyCache,
    next_seq: u64,
    metrics: SessionMetrics,
}

/// Serves one connection to its end. Never panics on anything the peer sends.
pub(crate) async fn serve(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut shutdown: Shutdown,
) {
    let mut conn = Connection::new(stream);
    let hello = tokio::select! {
        read = tokio::time::timeout(shared.config.handshake_timeout, conn.read_message()) => read,
        _ = shutdown.recv() => {
            let _ = conn.write_error(ErrorCode::ShuttingDown, "the daemon is shutting down".into()).await;
            conn.close().await;
            return;
        }
    };
    let hello = match hello {
        Ok(Ok(Some(ClientMessage::Hello(hello)))) => hello,
        Ok(Ok(None)) => return,
        Ok(Ok(Some(other))) => {
            let refusal = Refusal::new(
                ErrorCode::OutOfOrder,
                format!("expected Hello first, got {}", kind(&other)),
            );
            return refuse(&mut conn, peer, refusal).await;
        }
        Ok(Err(error)) => return refuse(&mut conn, peer, error.into()).await,
        Err(_) => {
            let refusal = Refusal::new(
                ErrorCode::OutOfOrder,
                format!(
                    "no Hello within {:?} of connecting",
                    shared.config.handshake_timeout
                ),
            );
            return refuse(&mut conn, peer, refusal).await;
        }
    };
    let session = match Session::start(conn, peer, shared, hello).await {
        Ok(session) => session,
        Err((mut conn, refusal)) => return refuse(&mut conn, peer, refusal).await,
    };
    session.run(shutdown).await;
}

async fn refuse(conn: &mut Connection, peer: SocketAddr, refusal: Refusal) {
    warn!(%peer, code = ?refusal.code, "refusing client: {}", refusal.message);
    let _ = conn.write_error(refusal.code, refusal.message).await;
    conn.close().await;
}

fn kind(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello(_) => "Hello",
        ClientMessage::MatchStart(_) => "MatchStart",
        ClientMessage::Frame(_) => "Frame",
        ClientMessage::MatchEnd(_) => "MatchEnd",
    }
}

/// A per-port seed: stable for a given server seed and port.
fn port_seed(server_seed: u64, port: u8) -> u64 {
    server_seed ^ (port as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Session {
    /// Answers the handshake with a Welcome, or refuses it.
    async fn start(
        mut conn: Connection,
        peer: SocketAddr,
        shared: Arc<Shared>,
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
            debug!(%peer, "client left during the handshake: {e}");
            return Err((conn, Refusal::new(ErrorCode::Truncated, "write failed")));
        }
        info!(%peer, ports = ?hello.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
              budget_us = budget.limit_us(), "session started");
        Ok(Session {
            peer,
            conn,
            shared,
            ports,
            budget,
            lifecycle: Lifecycle::new(),
            pending: VecDeque::new(),
            steps: VecDeque::new(),
            in_flight: None,
            cache: ReplyCache::default(),
            next_seq: 0,
            metrics: SessionMetrics::new(),
        })
    }

    async fn run(mut self, mut shutdown: Shutdown) {
        let ending = self.serve_messages(&mut shutdown).await;
        // Whatever ended the session, every frame accepted gets its answer.
        let drained = self.drain().await;
        let ending = match (ending, drained) {
            (Ok(ending), Ok(())) => ending,
            (Err(refusal), _) | (Ok(_), Err(refusal)) => Some(refusal),
        };
        if let Some(refusal) = ending {
            warn!(peer = %self.peer, code = ?refusal.code, "closing session: {}", refusal.message);
            let _ = self.conn.write_error(refusal.code, refusal.message).await;
        }
        self.conn.close().await;
        info!(peer = %self.peer, "session ended: {}", self.metrics);
    }

    /// Reads and answers until the client leaves (`Ok(None)`), the daemon
    /// shuts down (`Ok(Some(ShuttingDown))`), or something is refused.
    async fn serve_messages(
        &mut self,
        shutdown: &mut Shutdown,
    ) -> Result<Option<Refusal>, Refusal> {
        loop {
            self.answer_due().await?;
            self.submit_next();
            let give_up_at = self.waiting_until().map(tokio::time::Instant::from_std);
            tokio::select! {
                done = wait_step(&mut self.in_flight) => self.finish_step(done)?,
                _ = sleep_until(give_up_at) => {}
                read = self.conn.read_message() => match read {
                    Ok(Some(message)) => self.accept(message)?,
                    Ok(None) => return Ok(None),
                    Err(error) => return Err(error.into()),
                },
                _ = shutdown.recv() => {
                    return Ok(Some(Refusal::new(ErrorCode::ShuttingDown, "the daemon is shutting down")));
                }
            }
        }
    }

    /// Answers every accepted frame, waiting for steps or their deadlines.
    async fn drain(&mut self) -> Result<(), Refusal> {
        while !self.pending.is_empty() {
            self.answer_due().await?;
            self.submit_next();
            if self.pending.is_empty() {
                break;
            }
            let give_up_at = self.waiting_until().map(tokio::time::Instant::from_std);
            tokio::select! {
                done = wait_step(&mut self.in_flight) => self.finish_step(done)?,
                _ = sleep_until(give_up_at) => {}
            }
        }
        Ok(())
    }

    /// Takes one message from the client.
    fn accept(&mut self, message: ClientMessage) -> Result<(), Refusal> {
        match message {
            ClientMessage::Hello(_) => Err(Refusal::new(
                ErrorCode::OutOfOrder,
                "a second Hello: the handshake is already done",
            )),
            ClientMessage::MatchStart(_) => {
                self.lifecycle.match_start();
                Ok(())
            }
            ClientMessage::MatchEnd(_) => {
                self.lifecycle.match_end();
                Ok(())
            }
            ClientMessage::Frame(frame) => self.accept_frame(frame),
        }
    }

    fn accept_frame(&mut self, frame: Frame) -> Result<(), Refusal> {
        let read_at = Instant::now();
        if let Some(missing) = self.ports.iter().find(|p| frame.player(p.port).is_none()) {
            return Err(Refusal::new(
                ErrorCode::UnknownPort,
                format!(
                    "frame {} has no player on controlled port {}",
                    frame.frame, missing.port
                ),
            ));
        }
        match self.lifecycle.observe(&frame) {
            Verdict::Resend => {
                self.pending.push_back(Pending::Resend {
                    frame: frame.frame,
                    read_at,
                });
            }
            Verdict::Step { reset, missing } => {
                if self.steps.len() >= MAX_BACKLOG {
                    return Err(Refusal::new(
                        ErrorCode::Internal,
                        format!(
                            "inference is {} frames behind the game; the policy is too slow for this machine",
                            self.steps.len()
                        ),
                    ));
                }
                if missing > 0 {
                    self.metrics.gaps += 1;
                    self.metrics.missing_frames += missing as u64;
                    debug!(peer = %self.peer, frame = frame.frame, missing, "gap in frame numbers");
                }
                let resets: Vec<bool> = self
                    .ports
                    .iter()
                    .map(|p| reset.is_some_and(|cause| p.resets_on(cause)))
                    .collect();
                let seq = self.next_seq;
                self.next_seq += 1;
                self.pending.push_back(Pending::Step {
                    seq,
                    frame: frame.frame,
                    read_at,
                    give_up_at: self.budget.give_up_at(read_at),
                    resets: resets.clone(),
                    new_match: reset == Some(ResetCause::NewMatch),
                    actions: None,
                });
                self.steps.push_back(Step {
                    seq,
                    frame: Arc::new(frame),
                    resets,
                });
            }
        }
        Ok(())
    }

    /// Sends the next frame to the compute threads if none is in flight.
    fn submit_next(&mut self) {
        if self.in_flight.is_some() {
            return;
        }
        let Some(step) = self.steps.front() else {
            return;
        };
        for (port, &reset) in self.ports.iter_mut().zip(&step.resets) {
            if reset {
                port.reset();
            }
        }
        let (done, receiver) = oneshot::channel();
        let job = StepJob {
            frame: step.frame.clone(),
            ports: self
                .ports
                .iter_mut()
                .map(ControlledPort::take_work)
                .collect(),
            done,
        };
        self.shared.compute.submit(job);
        self.in_flight = Some(receiver);
    }

    /// Takes a finished step back: states home, actions queued, the frame's
    /// answer ready if it is still owed.
    fn finish_step(
        &mut self,
        done: Result<StepDone, oneshot::error::RecvError>,
    ) -> Result<(), Refusal> {
        self.in_flight = None;
        let step = self.steps.pop_front().expect("a finished step was queued");
        let done = done.map_err(|_| Refusal::new(ErrorCode::Internal, "a compute thread died"))?;
        for (port, work) in self.ports.iter_mut().zip(done.ports) {
            port.put_back(work);
        }
        let outputs = done
            .outputs
            .map_err(|e| Refusal::new(ErrorCode::Internal, format!("inference failed: {e}")))?;
        self.metrics.steps += 1;
        let actions: Vec<ControllerState> = self
            .ports
            .iter_mut()
            .zip(outputs)
            .map(|(port, output)| port.push_action(output))
            .collect();
        for pending in self.pending.iter_mut() {
            if let Pending::Step {
                seq, actions: slot, ..
            } = pending
            {
                if *seq == step.seq {
                    *slot = Some(actions);
                    break;
                }
            }
        }
        Ok(())
    }

    /// When the oldest unanswered frame stops waiting for its step.
    fn waiting_until(&self) -> Option<Instant> {
        match self.pending.front() {
            Some(Pending::Step {
                give_up_at,
                actions: None,
                ..
            }) => Some(*give_up_at),
            _ => None,
        }
    }

    /// Sends, in order, every answer that is ready or due.
    async fn answer_due(&mut self) -> Result<(), Refusal> {
        while let Some(front) = self.pending.front() {
            let now = Instant::now();
            let (reply, read_at) = match front {
                Pending::Resend { frame, read_at } => {
                    self.metrics.resends += 1;
                    (self.resend(*frame), *read_at)
                }
                Pending::Step {
                    frame,
                    read_at,
                    give_up_at,
                    resets,
                    new_match,
                    actions,
                    ..
                } => {
                    let late = actions.is_none();
                    if late && now < *give_up_at {
                        break;
                    }
                    if late {
                        self.metrics.late += 1;
                    }
                    if resets.iter().any(|&r| r) {
                        self.metrics.resets += 1;
                    }
                    if *new_match {
                        // Frame numbers start over: old replies must not answer new frames.
                        self.cache.clear();
                    }
                    let server_us = now
                        .duration_since(*read_at)
                        .as_micros()
                        .min(u32::MAX as u128) as u32;
                    let outputs = self
                        .ports
                        .iter()
                        .enumerate()
                        .map(|(i, port)| PortOutput {
                            port: port.port,
                            controller: match actions {
                                Some(actions) => actions[i],
                                None => self.shared.config.fallback.controller(port.last_sent()),
                            },
                            fallback: late,
                            reset: resets[i],
                            server_us,
                        })
                        .collect();
                    (
                        FrameReply {
                            frame: *frame,
                            outputs,
                        },
                        *read_at,
                    )
                }
            };
            self.pending.pop_front();
            for (port, output) in self.ports.iter_mut().zip(&reply.outputs) {
                port.record_sent(output.controller);
            }
            self.cache.insert(reply.clone());
            self.conn
                .write_message(&ServerMessage::Reply(reply))
                .await
                .map_err(|e| Refusal::new(ErrorCode::Truncated, format!("write failed: {e}")))?;
            self.metrics.frames += 1;
            self.metrics.record_latency(read_at.elapsed());
        }
        Ok(())
    }

    /// The reply for a rollback re-send: the one already sent for that frame.
    fn resend(&self, frame: i32) -> FrameReply {
        match self.cache.get(frame) {
            Some(reply) => reply.clone(),
            // Older than the cache: repeat what each port last did.
            None => FrameReply {
                frame,
                outputs: self
                    .ports
                    .iter()
                    .map(|port| PortOutput {
                        port: port.port,
                        controller: port.last_sent(),
                        fallback: false,
                        reset: false,
                        server_us: 0,
                    })
                    .collect(),
            },
        }
    }
}

async fn wait_step(
    in_flight: &mut Option<oneshot::Receiver<StepDone>>,
) -> Result<StepDone, oneshot::error::RecvError> {
    match in_flight {
        Some(receiver) => receiver.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
