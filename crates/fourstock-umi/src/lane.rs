//! A lane's compute thread: it owns the games of its lane and answers the
//! lane's `obs` in order, one batch per message.
//!
//! The arena keeps one message in flight per lane and interleaves lanes,
//! so each lane gets a thread of its own and lanes step in parallel. A
//! lane's games are grouped by model and each group is stepped in chunks
//! of [`CHUNK`] through the policy's small-batch path. A `warmup` runs
//! every served model on scratch states that no game ever sees.

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use fourstock_policy::{Policy, PolicyState, ResetCause, StepRequest};
use fourstock_proto::{Frame, StageState};
use fourstock_telemetry::{ModelTable, ReplyKind, ResetKind, Telemetry};

use crate::error::UmiError;
use crate::frame::{self, CTRL_WIDTH, FRAME_SIZE};
use crate::game::Game;
use crate::message::{Act, Obs};
use crate::outbox::Outbox;

/// The most games one policy step takes: the small-batch kernel's limit
/// (fourstock-nn's `SMALL_BATCH`), past which a step would go through
/// candle's batched matmuls instead.
pub const CHUNK: usize = 64;

/// A game the lane has not seen yet: its handle, model and port.
pub struct Start {
    pub game: u32,
    pub policy: Arc<dyn Policy>,
    pub port: u8,
}

/// What the reader hands a lane.
pub enum Job {
    /// Answer an `obs`, read at `read_at`; `starts` are its games this
    /// lane meets first.
    Obs {
        obs: Obs,
        starts: Vec<Start>,
        read_at: Instant,
    },
    /// Answer a `warmup` on scratch state, then signal `done`.
    Warmup { obs: Obs, done: Sender<()> },
    /// These games are over: free their state.
    End(Vec<u32>),
}

pub struct Lane {
    index: u32,
    outbox: Arc<Outbox>,
    /// Every served model, for warmups.
    policies: Vec<Arc<dyn Policy>>,
    seed: u64,
    telemetry: Arc<Telemetry>,
    figures: Arc<ModelTable>,
    games: HashMap<u32, Game>,
    frames: Vec<Frame>,
    ctrl: Vec<u8>,
    body: Vec<u8>,
    scratch: Vec<u8>,
}

impl Lane {
    /// A lane counting into `(telemetry, figures)`.
    pub fn new(
        index: u32,
        outbox: Arc<Outbox>,
        policies: Vec<Arc<dyn Policy>>,
        seed: u64,
        (telemetry, figures): (Arc<Telemetry>, Arc<ModelTable>),
    ) -> Lane {
        Lane {
            index,
            outbox,
            policies,
            seed,
            telemetry,
            figures,
            games: HashMap::new(),
            frames: Vec::new(),
            ctrl: Vec::new(),
            body: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Serves jobs until the reader hangs up; a failure ends the session.
    pub fn run(mut self, jobs: Receiver<Job>) {
        let _span = tracing::info_span!("lane", lane = self.index).entered();
        for job in jobs {
            let result = match job {
                Job::Obs {
                    obs,
                    starts,
                    read_at,
                } => {
                    for s in starts {
                        self.games
                            .insert(s.game, Game::new(s.policy, s.port, self.seed));
                    }
                    self.answer(&obs, read_at)
                }
                Job::Warmup { obs, done } => self.warmup(&obs).map(|()| {
                    let _ = done.send(());
                }),
                Job::End(games) => {
                    for game in games {
                        self.games.remove(&game);
                    }
                    Ok(())
                }
            };
            if let Err(e) = result {
                self.outbox.fail(e);
                return;
            }
        }
    }

    fn answer(&mut self, obs: &Obs, read_at: Instant) -> Result<(), UmiError> {
        let games = &self.games;
        let port = |game: u32| games.get(&game).map_or(1, |g| g.port);
        read_frames(&mut self.frames, &mut self.ctrl, obs, "obs", port)?;
        // Resets first, then one group of rows per model.
        let mut groups: Vec<(Arc<dyn Policy>, Vec<usize>)> = Vec::new();
        for (k, (&handle, &first)) in obs.games.iter().zip(&obs.first).enumerate() {
            let game = self
                .games
                .get_mut(&handle)
                .expect("the reader starts every game");
            if let Some(cause) = game.observe(&self.frames[k], first) {
                tracing::debug!(game = handle, frame = self.frames[k].frame, ?cause, "reset");
                let kind = match cause {
                    ResetCause::NewMatch => ResetKind::NewMatch,
                    ResetCause::StockLoss => ResetKind::StockLoss,
                };
                self.telemetry.reset(kind, 1);
            }
            match groups
                .iter_mut()
                .find(|(p, _)| Arc::ptr_eq(p, &game.policy))
            {
                Some((_, rows)) => rows.push(k),
                None => groups.push((game.policy.clone(), vec![k])),
            }
        }
        for (policy, rows) in groups {
            let mut states: Vec<PolicyState> = rows
                .iter()
                .map(|&k| {
                    let game = self.games.get_mut(&obs.games[k]).expect("started");
                    game.state.take().expect("one step at a time")
                })
                .collect();
            let stepped = step_rows(
                &*policy,
                &self.frames,
                &rows,
                &mut states,
                &mut self.ctrl,
                |k| self.games[&obs.games[k]].port,
                &self.figures,
            );
            for (&k, state) in rows.iter().zip(states) {
                if let Some(game) = self.games.get_mut(&obs.games[k]) {
                    game.state = Some(state);
                }
            }
            stepped?;
        }
        // Counted before the reply leaves, as the daemon counts.
        let latency = read_at.elapsed();
        for _ in &obs.games {
            self.telemetry.replied(ReplyKind::OnTime, latency);
        }
        self.reply(obs.seq)
    }

    fn warmup(&mut self, obs: &Obs) -> Result<(), UmiError> {
        read_frames(&mut self.frames, &mut self.ctrl, obs, "warmup", |_| 1)?;
        let rows: Vec<usize> = (0..obs.games.len()).collect();
        for policy in self.policies.clone() {
            let mut states: Vec<PolicyState> = rows
                .iter()
                .map(|_| policy.initial_state(self.seed))
                .collect();
            step_rows(
                &*policy,
                &self.frames,
                &rows,
                &mut states,
                &mut self.ctrl,
                |_| 1,
                &ModelTable::none(),
            )?;
        }
        self.reply(obs.seq)
    }

    fn reply(&mut self, seq: u64) -> Result<(), UmiError> {
        let act = Act {
            t: "act",
            seq,
            ctrl: &self.ctrl,
        };
        self.outbox.send(&act, &mut self.body, &mut self.scratch)
    }
}

/// Reads the obs' frames into `frames`, each from its game's port, and
/// sizes `ctrl` for the reply.
fn read_frames(
    frames: &mut Vec<Frame>,
    ctrl: &mut Vec<u8>,
    obs: &Obs,
    kind: &str,
    port: impl Fn(u32) -> u8,
) -> Result<(), UmiError> {
    let n = obs.games.len();
    while frames.len() < n {
        frames.push(Frame {
            frame: 0,
            stage: 0,
            stage_state: StageState::NONE,
            players: Vec::with_capacity(4),
        });
    }
    for (k, (&game, bytes)) in obs
        .games
        .iter()
        .zip(obs.frames.chunks_exact(FRAME_SIZE))
        .enumerate()
    {
        frame::read(bytes, port(game), &mut frames[k]).map_err(|e| {
            UmiError::BadFrame(format!("{kind} seq {}: game {game}: {}", obs.seq, e.0))
        })?;
    }
    ctrl.clear();
    ctrl.resize(n * CTRL_WIDTH * 4, 0);
    Ok(())
}

/// Steps `states` (one per row `k` of `rows`) on their frames in chunks of
/// [`CHUNK`], counting each step into `figures`, and writes each row's
/// controller into `ctrl`.
fn step_rows(
    policy: &dyn Policy,
    frames: &[Frame],
    rows: &[usize],
    states: &mut [PolicyState],
    ctrl: &mut [u8],
    port: impl Fn(usize) -> u8,
    figures: &ModelTable,
) -> Result<(), UmiError> {
    for (chunk_rows, chunk_states) in rows.chunks(CHUNK).zip(states.chunks_mut(CHUNK)) {
        let mut requests: Vec<StepRequest> = chunk_rows
            .iter()
            .zip(chunk_states.iter_mut())
            .map(|(&k, state)| StepRequest {
                frame: &frames[k],
                port: port(k),
                state,
            })
            .collect();
        let started = Instant::now();
        let controllers = policy
            .step(&mut requests)
            .map_err(|source| UmiError::Policy {
                model: policy.info().name.clone(),
                source,
            })?;
        figures
            .of(&policy.info().name)
            .stepped(requests.len(), started.elapsed());
        for (&k, controller) in chunk_rows.iter().zip(&controllers) {
            let row = frame::ctrl_row(controller);
            let out = &mut ctrl[k * CTRL_WIDTH * 4..][..CTRL_WIDTH * 4];
            for (bytes, value) in out.chunks_exact_mut(4).zip(row) {
                bytes.copy_from_slice(&value.to_le_bytes());
            }
        }
    }
    Ok(())
}
