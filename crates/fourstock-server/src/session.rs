//! One client connection after its handshake: frames in, one reply per
//! frame out, until the client leaves, the daemon shuts down or something
//! is refused.
//!
//! A session reads messages as they come, steps its ports one frame at a
//! time, in order (inline on its event loop or on the compute threads, as
//! `stepper` decides), and answers every frame exactly
//! once: with the computed action if inference finishes within the budget,
//! else with the fallback at the deadline while the step goes on, so the
//! recurrent state still advances in order. Rollback re-sends are answered
//! from a cache of recent replies. On bad input, end of stream or shutdown,
//! every frame already accepted is answered before the connection closes.
//!
//! Every frame read waits in one queue, [`Session::owed`], in arrival
//! order, until it is both answered and (if it advances the ports)
//! stepped. Replies leave from the front in order; the frame to step next
//! is the first one not yet stepped, so a frame answered late by the
//! fallback stays queued until its step is done.
//!
//! Nothing waits without a bound: a write waits at most the write timeout
//! (see `connection`), a client silent for the idle timeout is ended with
//! `Idle`, and at shutdown the session has the connection's shutdown grace
//! to answer what it accepted, say why it ends and close, so a client that
//! stopped reading cannot hold the daemon up.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fourstock_policy::{Lifecycle, ResetCause, Verdict};
use fourstock_proto::{
    ClientMessage, ControllerState, ErrorCode, Frame, FrameReply, PortOutput, ServerMessage,
};
use fourstock_telemetry::{ReplyKind, ResetKind};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::budget::Budget;
use crate::compute::Job;
use crate::connection::Connection;
use crate::controlled::ControlledPort;
use crate::metrics::SessionMetrics;
use crate::refusal::Refusal;
use crate::shared::Shared;
use crate::shutdown::Shutdown;
use crate::stepper::Stepper;

/// How many recent replies are kept for rollback re-sends. Slippi rolls back
/// at most a few frames; this is ample.
const REPLY_CACHE: usize = 256;

/// How many frames may wait for a slow policy before the session is ended:
/// ten seconds of play. Past that the bot is hopelessly behind the game.
const MAX_BACKLOG: usize = 600;

/// A frame read and not yet done with.
struct Owed {
    /// The frame number, echoed in the reply.
    number: i32,
    read_at: Instant,
    /// `None` for a rollback re-send, which is answered and never stepped.
    advance: Option<Advance>,
}

/// A frame that advances every controlled port once.
struct Advance {
    frame: Arc<Frame>,
    give_up_at: Instant,
    /// Which ports reset before this step.
    resets: Resets,
    new_match: bool,
    /// The actions due, once the step is done.
    actions: Option<Vec<ControllerState>>,
}

impl Owed {
    /// Whether this frame still needs its step (a re-send never does).
    fn unstepped(&self) -> bool {
        self.advance.as_ref().is_some_and(|a| a.actions.is_none())
    }
}

/// The replies already sent, for rollback re-sends: the latest reply of
/// each frame number modulo [`REPLY_CACHE`], in a ring that a session
/// fills once. Slippi re-sends the last few frames, so a re-send finds its
/// frame unless it is older than the ring.
struct ReplyCache {
    slots: Vec<Option<FrameReply>>,
}

impl ReplyCache {
    fn new() -> ReplyCache {
        ReplyCache {
            slots: (0..REPLY_CACHE).map(|_| None).collect(),
        }
    }

    fn slot(frame: i32) -> usize {
        frame.rem_euclid(REPLY_CACHE as i32) as usize
    }

    fn insert(&mut self, reply: FrameReply) {
        let slot = Self::slot(reply.frame);
        self.slots[slot] = Some(reply);
    }

    fn get(&self, frame: i32) -> Option<&FrameReply> {
        self.slots[Self::slot(frame)]
            .as_ref()
            .filter(|reply| reply.frame == frame)
    }

    /// The outputs of the reply that `frame`'s will replace, emptied: a
    /// reply reuses the buffer of the one it evicts instead of allocating.
    fn recycle(&mut self, frame: i32) -> Vec<PortOutput> {
        match self.slots[Self::slot(frame)].take() {
            Some(reply) => {
                let mut outputs = reply.outputs;
                outputs.clear();
                outputs
            }
            None => Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.slots.iter_mut().for_each(|slot| *slot = None);
    }
}

/// Which of a session's ports (by index) reset before a step. A Hello
/// names at most four ports (`fourstock_proto::validate`).
#[derive(Clone, Copy, Default)]
struct Resets(u8);

impl Resets {
    fn of(each: impl Iterator<Item = bool>) -> Resets {
        Resets(
            each.enumerate()
                .fold(0, |mask, (i, reset)| mask | ((reset as u8) << i)),
        )
    }

    fn get(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    fn any(self) -> bool {
        self.0 != 0
    }

    /// How many ports reset.
    fn count(self) -> u64 {
        self.0.count_ones() as u64
    }
}

/// The state of one connection after its handshake.
pub(crate) struct Session {
    conn: Connection,
    shared: Arc<Shared>,
    /// Where this session's frames are stepped: inline on its event loop,
    /// or handed to the compute threads.
    stepper: Rc<Stepper>,
    ports: Vec<ControlledPort>,
    budget: Budget,
    lifecycle: Lifecycle,
    /// Every frame read and not yet both answered and stepped, in order.
    owed: VecDeque<Owed>,
    /// How many frames at the front of `owed` are answered.
    answered: usize,
    /// How many frames in `owed` still need their step.
    unstepped: usize,
    /// The job of the first unstepped frame, while the compute threads
    /// hold it.
    in_flight: Option<oneshot::Receiver<Job>>,
    cache: ReplyCache,
    metrics: SessionMetrics,
}

impl Session {
    pub(crate) fn new(
        conn: Connection,
        shared: Arc<Shared>,
        stepper: Rc<Stepper>,
        ports: Vec<ControlledPort>,
        budget: Budget,
    ) -> Session {
        Session {
            conn,
            shared,
            stepper,
            ports,
            budget,
            lifecycle: Lifecycle::new(),
            owed: VecDeque::new(),
            answered: 0,
            unstepped: 0,
            in_flight: None,
            cache: ReplyCache::new(),
            metrics: SessionMetrics::new(),
        }
    }

    pub(crate) async fn run(mut self, mut shutdown: Shutdown) {
        let ending = self.serve_messages(&mut shutdown).await;
        // Whatever ended the session, every frame accepted gets its answer.
        let drained = self.drain().await;
        let ending = match (ending, drained) {
            (Ok(ending), Ok(())) => ending,
            (Err(refusal), _) | (Ok(_), Err(refusal)) => Some(refusal),
        };
        if let Some(refusal) = ending {
            warn!(code = ?refusal.code, "closing session: {}", refusal.message);
            self.shared.count_error(refusal.code);
            let _ = self.conn.write_error(refusal.code, refusal.message).await;
        }
        self.conn.close().await;
        info!("session ended: {}", self.metrics);
    }

    /// Reads and answers until the client leaves (`Ok(None)`), the daemon
    /// shuts down (`Ok(Some(ShuttingDown))`), or something is refused.
    ///
    /// The shutdown signal and the fallback timer live across loop turns,
    /// so a frame does not register and cancel them anew on every turn.
    async fn serve_messages(
        &mut self,
        shutdown: &mut Shutdown,
    ) -> Result<Option<Refusal>, Refusal> {
        let shutting_down = shutdown.recv();
        tokio::pin!(shutting_down);
        let mut fallback = Fallback::new();
        let mut idle = Idle::new(self.shared.config.idle_timeout);
        loop {
            self.answer_due().await?;
            self.submit_next()?;
            fallback.arm(self.waiting_until());
            tokio::select! {
                done = wait_step(&mut self.in_flight) => self.finish_step(done)?,
                _ = fallback.fired() => {}
                read = self.conn.read_message() => match read {
                    Ok(Some(message)) => {
                        idle.heard();
                        self.accept(message)?;
                    }
                    Ok(None) => return Ok(None),
                    Err(error) => return Err(error.into()),
                },
                silent = idle.expired() => {
                    return Err(Refusal::new(
                        ErrorCode::Idle,
                        format!("no message for {} s: the daemon's idle timeout", silent.as_secs()),
                    ));
                }
                _ = &mut shutting_down => {
                    self.conn.shutting_down();
                    return Ok(Some(Refusal::new(ErrorCode::ShuttingDown, "the daemon is shutting down")));
                }
            }
        }
    }

    /// Answers every accepted frame, waiting for steps or their deadlines,
    /// and gives up at the connection's deadline once it has one.
    async fn drain(&mut self) -> Result<(), Refusal> {
        let mut fallback = Fallback::new();
        while self.answered < self.owed.len() {
            self.answer_due().await?;
            self.submit_next()?;
            if self.answered == self.owed.len() {
                break;
            }
            fallback.arm(self.waiting_until());
            let deadline = self.conn.deadline();
            let give_up = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                done = wait_step(&mut self.in_flight) => self.finish_step(done)?,
                _ = fallback.fired() => {}
                _ = give_up => {
                    return Err(Refusal::new(
                        ErrorCode::ShuttingDown,
                        format!("{} frames left unanswered at the shutdown deadline",
                                self.owed.len() - self.answered),
                    ));
                }
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
        let number = frame.frame;
        let advance = match self.lifecycle.observe(&frame) {
            Verdict::Resend => None,
            Verdict::Advance { reset, missing } => {
                if self.unstepped >= MAX_BACKLOG {
                    return Err(Refusal::new(
                        ErrorCode::Internal,
                        format!(
                            "inference is {} frames behind the game; the policy is too slow for this machine",
                            self.unstepped
                        ),
                    ));
                }
                if missing > 0 {
                    self.metrics.gaps += 1;
                    self.metrics.missing_frames += missing as u64;
                    debug!(frame = number, missing, "gap in frame numbers");
                }
                self.unstepped += 1;
                Some(Advance {
                    frame: Arc::new(frame),
                    give_up_at: self.budget.give_up_at(read_at),
                    resets: Resets::of(
                        self.ports
                            .iter()
                            .map(|p| reset.is_some_and(|cause| p.resets_on(cause))),
                    ),
                    new_match: reset == Some(ResetCause::NewMatch),
                    actions: None,
                })
            }
        };
        self.owed.push_back(Owed {
            number,
            read_at,
            advance,
        });
        Ok(())
    }

    /// Submits the first unstepped frame for its step if none is in flight,
    /// resetting the ports it resets first. It steps inline only if every
    /// port's model does, in batches no larger than the smallest allows.
    /// Fails if a port's state is gone, lost with a compute thread.
    fn submit_next(&mut self) -> Result<(), Refusal> {
        if self.in_flight.is_some() {
            return Ok(());
        }
        let Some(advance) = self
            .owed
            .iter()
            .find(|owed| owed.unstepped())
            .and_then(|owed| owed.advance.as_ref())
        else {
            return Ok(());
        };
        for (i, port) in self.ports.iter_mut().enumerate() {
            if advance.resets.get(i) {
                port.reset();
            }
        }
        let (done, receiver) = oneshot::channel();
        let job = Job {
            frame: advance.frame.clone(),
            ports: self
                .ports
                .iter_mut()
                .map(ControlledPort::take_work)
                .collect::<Option<_>>()
                .ok_or_else(|| {
                    Refusal::new(
                        ErrorCode::Internal,
                        "a port's recurrent state was lost with a failed step",
                    )
                })?,
            outputs: None,
            done: Some(done),
        };
        let inline_rows = self
            .ports
            .iter()
            .map(ControlledPort::inline_rows)
            .try_fold(usize::MAX, |rows, port| Some(rows.min(port?)));
        self.stepper.submit(job, inline_rows);
        self.in_flight = Some(receiver);
        Ok(())
    }

    /// Takes a finished step back: states home, actions queued, the frame's
    /// answer ready if it is still owed.
    fn finish_step(&mut self, done: Result<Job, oneshot::error::RecvError>) -> Result<(), Refusal> {
        self.in_flight = None;
        let mut job =
            done.map_err(|_| Refusal::new(ErrorCode::Internal, "a compute thread died"))?;
        let outputs = job.outputs.take();
        for (port, work) in self.ports.iter_mut().zip(job.ports) {
            port.put_back(work);
        }
        let outputs = match outputs {
            Some(Ok(outputs)) => outputs,
            Some(Err(failure)) => {
                let message = format!("inference failed: {failure}");
                return Err(Refusal::new(ErrorCode::Internal, message));
            }
            None => return Err(Refusal::new(ErrorCode::Internal, "a step came back unrun")),
        };
        self.metrics.steps += 1;
        let actions: Vec<ControllerState> = self
            .ports
            .iter_mut()
            .zip(outputs)
            .map(|(port, output)| port.push_action(output))
            .collect();
        let advance = self
            .owed
            .iter_mut()
            .find(|owed| owed.unstepped())
            .and_then(|owed| owed.advance.as_mut())
            .expect("the frame in flight is owed its step");
        advance.actions = Some(actions);
        self.unstepped -= 1;
        self.forget_done();
        Ok(())
    }

    /// Drops the frames at the front that are answered and stepped.
    fn forget_done(&mut self) {
        while self.answered > 0 && self.owed.front().is_some_and(|owed| !owed.unstepped()) {
            self.owed.pop_front();
            self.answered -= 1;
        }
    }

    /// When the oldest unanswered frame stops waiting for its step.
    fn waiting_until(&self) -> Option<Instant> {
        let owed = self.owed.get(self.answered)?;
        match &owed.advance {
            Some(advance) if advance.actions.is_none() => Some(advance.give_up_at),
            _ => None,
        }
    }

    /// Sends, in order, every answer that is ready or due.
    async fn answer_due(&mut self) -> Result<(), Refusal> {
        while let Some(owed) = self.owed.get(self.answered) {
            let now = Instant::now();
            let read_at = owed.read_at;
            let telemetry = self.shared.telemetry();
            let (reply, kind) = match &owed.advance {
                None => {
                    self.metrics.resends += 1;
                    (self.resend(owed.number), ReplyKind::Resend)
                }
                Some(advance) => {
                    let late = advance.actions.is_none();
                    if late && now < advance.give_up_at {
                        break;
                    }
                    if late {
                        self.metrics.late += 1;
                    }
                    if advance.resets.any() {
                        self.metrics.resets += 1;
                        let cause = match advance.new_match {
                            true => ResetKind::NewMatch,
                            false => ResetKind::StockLoss,
                        };
                        telemetry.reset(cause, advance.resets.count());
                    }
                    if advance.new_match {
                        // Frame numbers start over: old replies must not answer new frames.
                        self.cache.clear();
                    }
                    let server_us = now
                        .duration_since(read_at)
                        .as_micros()
                        .min(u32::MAX as u128) as u32;
                    let mut outputs = self.cache.recycle(owed.number);
                    outputs.extend(self.ports.iter().enumerate().map(|(i, port)| PortOutput {
                        port: port.port,
                        controller: match &advance.actions {
                            Some(actions) => actions[i],
                            None => self.shared.config.fallback.controller(port.last_sent()),
                        },
                        fallback: late,
                        reset: advance.resets.get(i),
                        server_us,
                    }));
                    let reply = FrameReply {
                        frame: owed.number,
                        outputs,
                    };
                    match late {
                        true => (reply, ReplyKind::Fallback),
                        false => (reply, ReplyKind::OnTime),
                    }
                }
            };
            // Counted before the write, so a client that has its reply
            // finds it counted.
            telemetry.replied(kind, now.duration_since(read_at));
            self.answered += 1;
            for (port, output) in self.ports.iter_mut().zip(&reply.outputs) {
                port.record_sent(output.controller);
            }
            let resent = owed.advance.is_none();
            let message = ServerMessage::Reply(reply);
            let written = self.conn.write_message(&message).await;
            // A re-send's reply is in the ring already, or too old for it.
            if let (ServerMessage::Reply(reply), false) = (message, resent) {
                self.cache.insert(reply);
            }
            written
                .map_err(|e| Refusal::new(ErrorCode::Truncated, format!("write failed: {e}")))?;
            self.metrics.frames += 1;
            self.metrics.record_latency(read_at.elapsed());
        }
        self.forget_done();
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
    in_flight: &mut Option<oneshot::Receiver<Job>>,
) -> Result<Job, oneshot::error::RecvError> {
    match in_flight {
        Some(receiver) => receiver.await,
        None => std::future::pending().await,
    }
}

/// The timer that ends the wait for the oldest unanswered frame's step: one
/// timer per session, moved rather than made anew for every frame.
struct Fallback {
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
    armed: Option<Instant>,
}

impl Fallback {
    fn new() -> Fallback {
        Fallback {
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            armed: None,
        }
    }

    /// Sets the deadline, or disarms the timer with `None`. A disarmed
    /// timer is moved an hour away, so it does not wake the session for a
    /// frame already answered.
    fn arm(&mut self, at: Option<Instant>) {
        if at != self.armed {
            let deadline = at.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            self.timer
                .as_mut()
                .reset(tokio::time::Instant::from_std(deadline));
            self.armed = at;
        }
    }

    /// Completes at the deadline; never while disarmed. Firing disarms it.
    async fn fired(&mut self) {
        if self.armed.is_none() {
            return std::future::pending().await;
        }
        self.timer.as_mut().await;
        self.armed = None;
    }
}

/// The timer that ends a session whose client has gone silent. It is set
/// once per idle period, not moved on every message: when it fires early
/// (the client spoke since) it is set again from the last message.
struct Idle {
    limit: Option<Duration>,
    last: Instant,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    fn new(limit: Option<Duration>) -> Idle {
        let last = Instant::now();
        let first = last + limit.unwrap_or(Duration::from_secs(3600));
        Idle {
            limit,
            last,
            timer: Box::pin(tokio::time::sleep_until(first.into())),
        }
    }

    /// A message came.
    fn heard(&mut self) {
        if self.limit.is_some() {
            self.last = Instant::now();
        }
    }

    /// Completes, with the limit, once the client has been silent that
    /// long; never if there is no limit.
    async fn expired(&mut self) -> Duration {
        let Some(limit) = self.limit else {
            return std::future::pending().await;
        };
        loop {
            self.timer.as_mut().await;
            let due = self.last + limit;
            if Instant::now() >= due {
                return limit;
            }
            self.timer.as_mut().reset(due.into());
        }
    }
}
