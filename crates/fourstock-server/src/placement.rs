//! Where each model's steps run: inline, on the event loop that serves the
//! session, or on the compute threads. Decided once per model at start-up,
//! by timing it.
//!
//! Inline stepping saves a frame two thread hops (four context switches on
//! one core) and keeps the weights in the cache of the thread that reads
//! the sockets; it also lets one loop turn step every ready frame of a
//! model as one batch. Its price is that while a loop steps, it neither
//! reads nor sends fallbacks. So a model runs inline only when
//! - it declares a fixed cost ([`PolicyInfo::fixed_cost`]): a start-up
//!   timing predicts it, and
//! - one step takes at most a sixteenth of the budget; batches are then cut
//!   so that one inline batch takes about an eighth of it.
//!
//! Everything else (a Phillip-size model, a policy that can spike) goes to
//! the compute threads, where a slow step holds up only its own sessions:
//! their fallbacks still leave on time from the loop. If inline batches of
//! a model use more than half the budget of CPU time [`OVERRUNS`] times
//! running, it is moved to the compute threads for good, with a warning.
//! One overrun is not enough: on a virtual machine a thread's CPU time
//! also counts what the host took from it, and one such batch once moved
//! the default model off the loops for the rest of a run.
//!
//! [`PolicyInfo::fixed_cost`]: fourstock_policy::PolicyInfo::fixed_cost

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fourstock_policy::{ModelRegistry, Policy, StepRequest};
use fourstock_proto::{Frame, PlayerFrame, StageState};
use tracing::{info, warn};

/// The most ports one inline step takes: the small-batch kernel's limit.
const MAX_INLINE_ROWS: usize = 64;

/// How many inline batches of a model in a row must overrun before it
/// moves to the compute threads.
pub const OVERRUNS: u32 = 3;

/// Where one model's steps run.
#[derive(Debug)]
pub struct Placement {
    model: String,
    /// Ports per inline batch; 0 for the compute threads.
    inline_rows: usize,
    /// Inline batches of this model in a row that overran.
    overruns: AtomicU32,
    /// Set once [`OVERRUNS`] batches in a row overran.
    demoted: AtomicBool,
}

impl Placement {
    fn pool(model: &str) -> Placement {
        Placement {
            model: model.to_string(),
            inline_rows: 0,
            overruns: AtomicU32::new(0),
            demoted: AtomicBool::new(false),
        }
    }

    /// The most ports of this model an inline batch takes, or `None` if it
    /// steps on the compute threads.
    pub fn inline_rows(&self) -> Option<usize> {
        (self.inline_rows > 0 && !self.demoted.load(Ordering::Relaxed)).then_some(self.inline_rows)
    }

    /// Takes the CPU time an inline batch of this model used, against the
    /// `limit` it must stay within; after [`OVERRUNS`] overruns in a row,
    /// moves the model to the compute threads for good.
    pub fn judge(&self, took: Duration, limit: Duration) {
        if took <= limit {
            self.overruns.store(0, Ordering::Relaxed);
            return;
        }
        let streak = self.overruns.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= OVERRUNS && !self.demoted.swap(true, Ordering::Relaxed) {
            warn!(model = %self.model, took_us = took.as_micros() as u64, overruns = streak,
                  "inline batches used over half the budget of CPU time: this model now steps on the compute threads");
        }
    }
}

/// The placement of every served model.
pub struct Placements {
    by_policy: Vec<(Arc<dyn Policy>, Arc<Placement>)>,
}

impl Placements {
    /// Times each model and places it. With `inline` false every model
    /// goes to the compute threads.
    pub fn decide(models: &ModelRegistry, budget: Duration, inline: bool) -> Placements {
        let by_policy = models
            .names()
            .into_iter()
            .filter_map(|name| models.get(name))
            .map(|policy| {
                let placement = if inline {
                    place(policy.as_ref(), budget)
                } else {
                    Placement::pool(&policy.info().name)
                };
                (policy.clone(), Arc::new(placement))
            })
            .collect();
        Placements { by_policy }
    }

    /// The placement of `policy`; a policy not in the registry (none is)
    /// steps on the compute threads.
    pub fn of(&self, policy: &Arc<dyn Policy>) -> Arc<Placement> {
        self.by_policy
            .iter()
            .find(|(p, _)| Arc::ptr_eq(p, policy))
            .map(|(_, placement)| placement.clone())
            .unwrap_or_else(|| Arc::new(Placement::pool(&policy.info().name)))
    }
}

fn place(policy: &dyn Policy, budget: Duration) -> Placement {
    let info = policy.info();
    let mut placement = Placement::pool(&info.name);
    if !info.fixed_cost {
        info!(model = %info.name, "steps on the compute threads: its cost is not fixed");
        return placement;
    }
    let Some(one) = time_step(policy, 1) else {
        warn!(model = %info.name, "steps on the compute threads: a trial step failed");
        return placement;
    };
    if one > budget / 16 {
        info!(model = %info.name, step_us = one.as_micros() as u64,
              "steps on the compute threads: too slow to step inline");
        return placement;
    }
    let sixteen = time_step(policy, 16).unwrap_or(one * 16);
    let per_row = (sixteen / 16).max(Duration::from_nanos(100));
    let rows = ((budget / 8).as_nanos() / per_row.as_nanos()) as usize;
    placement.inline_rows = rows.clamp(1, MAX_INLINE_ROWS);
    info!(model = %info.name, step_us = one.as_micros() as u64,
          per_row_at_16_us = per_row.as_micros() as u64, rows = placement.inline_rows,
          "steps inline on the event loops");
    placement
}

/// The median of a few timed steps of `rows` fresh states on a made-up
/// frame, after a warm-up; `None` if the policy fails or panics on it.
fn time_step(policy: &dyn Policy, rows: usize) -> Option<Duration> {
    let character = policy.info().characters.first().copied().unwrap_or(2);
    let frame = Frame {
        frame: 0,
        stage: fourstock_proto::melee::BATTLEFIELD,
        stage_state: StageState::NONE,
        players: vec![
            PlayerFrame::new(1, character),
            PlayerFrame::new(2, character),
        ],
    };
    let mut states: Vec<_> = (0..rows as u64).map(|i| policy.initial_state(i)).collect();
    let mut times = Vec::new();
    for round in 0..12 {
        let mut requests = StepRequest::same_frame(&frame, 1, &mut states);
        let started = Instant::now();
        let stepped = catch_unwind(AssertUnwindSafe(|| policy.step(&mut requests)));
        let took = started.elapsed();
        if !matches!(stepped, Ok(Ok(_))) {
            return None;
        }
        if round >= 4 {
            times.push(took);
        }
    }
    times.sort();
    times.get(times.len() / 2).copied()
}
