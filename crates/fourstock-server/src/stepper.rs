//! One event loop's steps: jobs of inline models wait here and are stepped
//! on the loop itself, one batch per model per loop turn; every other job
//! goes to the compute threads.
//!
//! The first inline job of a turn spawns a flush task, which yields once
//! before it steps: tokio runs it only after every session the same
//! readiness woke has read its frame and the loop has polled its sockets
//! again, so the flush takes every frame that is ready by then. The flush
//! steps at most [`Placement::inline_rows`] ports at a time and yields
//! between batches, so replies and fallbacks due meanwhile go out.
//! Sessions get their jobs back through the same oneshot channels as from
//! the compute threads; on one thread that wake costs no system call.
//! Batches that use more than half the budget of CPU time, a few in a row,
//! move their model to the compute threads (see `placement`).
//!
//! [`Placement::inline_rows`]: crate::placement::Placement::inline_rows

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use fourstock_policy::Policy;

use crate::compute::{self, Job};
use crate::shared::Shared;

/// An inline job and the most ports its model's batches take.
struct Pending {
    job: Job,
    rows: usize,
}

/// The steps of one event loop.
pub(crate) struct Stepper {
    shared: Arc<Shared>,
    pending: RefCell<VecDeque<Pending>>,
    /// Whether a flush task is spawned and not yet done.
    flushing: Cell<bool>,
}

impl Stepper {
    pub(crate) fn new(shared: Arc<Shared>) -> Rc<Stepper> {
        Rc::new(Stepper {
            shared,
            pending: RefCell::new(VecDeque::new()),
            flushing: Cell::new(false),
        })
    }

    /// Steps `job` inline in batches of at most `inline_rows` ports, or, if
    /// `None`, on the compute threads. Must be called on the loop's
    /// `LocalSet`.
    pub(crate) fn submit(self: &Rc<Self>, job: Job, inline_rows: Option<usize>) {
        let Some(rows) = inline_rows else {
            self.shared.compute.submit(job);
            return;
        };
        self.pending.borrow_mut().push_back(Pending { job, rows });
        if !self.flushing.replace(true) {
            tokio::task::spawn_local(self.clone().flush());
        }
    }

    async fn flush(self: Rc<Self>) {
        loop {
            // Let the sessions already woken read their frames first.
            tokio::task::yield_now().await;
            let mut batch = self.next_batch();
            if batch.is_empty() {
                break;
            }
            let started = thread_cpu_time();
            compute::step(&mut batch, &self.shared.figures);
            let took = thread_cpu_time().saturating_sub(started);
            let limit = self.shared.config.budget / 2;
            // Every model the batch stepped (a session may play two).
            let mut judged: Vec<&Arc<dyn Policy>> = Vec::new();
            for work in batch.iter().flat_map(|job| &job.ports) {
                if !judged.iter().any(|p| Arc::ptr_eq(p, &work.policy)) {
                    judged.push(&work.policy);
                    self.shared.placements.of(&work.policy).judge(took, limit);
                }
            }
            batch.into_iter().for_each(Job::hand_back);
        }
        self.flushing.set(false);
    }

    /// The oldest pending job and the later ones on the same model, up to
    /// that model's batch size, in order; the rest stay queued.
    fn next_batch(&self) -> Vec<Job> {
        let mut pending = self.pending.borrow_mut();
        let Some(first) = pending.pop_front() else {
            return Vec::new();
        };
        let rows = first.rows;
        let mut ports = first.job.ports.len();
        let model = first.job.ports.first().map(|work| work.policy.clone());
        let mut batch = vec![first.job];
        let mut kept = VecDeque::new();
        while ports < rows {
            let Some(next) = pending.pop_front() else {
                break;
            };
            let same = match (&model, next.job.ports.first()) {
                (Some(model), Some(work)) => Arc::ptr_eq(model, &work.policy),
                _ => false,
            };
            if same {
                ports += next.job.ports.len();
                batch.push(next.job);
            } else {
                kept.push_back(next);
            }
        }
        kept.append(&mut pending);
        *pending = kept;
        batch
    }
}

/// The CPU time this thread has used. An inline batch is judged by the CPU
/// it took, not by the wall clock: being preempted, or a VM's stolen time,
/// says nothing about the model.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec for the call to fill.
    let failed = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0;
    if failed {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}
