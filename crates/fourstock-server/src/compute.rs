//! The compute threads: the steps of every model that is not stepped inline
//! on the event loops (see `placement`) run here, so a slow model holds up
//! only its own sessions.
//!
//! A session sends a [`Job`] holding the frame and the recurrent state of
//! each port it controls; a worker steps it and hands the same job back,
//! states advanced and [`Job::outputs`] filled, through a oneshot channel.
//! A session has at most one job in flight, so its frames are stepped in
//! order, and a slow session holds at most one worker while the others go
//! on serving everyone else.
//!
//! **Cross-session batching.** A worker that takes a job also takes the jobs
//! already waiting behind it, up to `max_batch` ports, and runs all ports
//! that share a policy as one batched step (states stacked, results
//! scattered back). It never waits for more work: a batch is only what is
//! pending at that moment, so batching costs no frame its deadline. Since
//! each session has one job in flight, a batch never holds two frames of one
//! session, and frames are never reordered.
//!
//! **Lifetime.** The pool owns its threads: dropping it closes the queue,
//! and each worker finishes the job in hand and exits before the drop
//! returns.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use fourstock_policy::{Policy, PolicyError, PolicyState, StepRequest};
use fourstock_proto::{ControllerState, Frame};
use fourstock_telemetry::ModelTable;
use tokio::sync::oneshot;

/// One controlled port's part of a job.
pub struct PortWork {
    pub policy: Arc<dyn Policy>,
    pub port: u8,
    pub state: PolicyState,
}

/// One frame of one session to step, sent to the pool and handed back.
pub struct Job {
    pub frame: Arc<Frame>,
    pub ports: Vec<PortWork>,
    /// One controller per port, in port order, once stepped: `None` until
    /// then. After a failure the states may be half advanced.
    pub outputs: Option<Result<Vec<ControllerState>, Arc<StepFailure>>>,
    /// Where the stepped job goes back to.
    pub done: Option<oneshot::Sender<Job>>,
}

impl Job {
    /// Sends the stepped job back to its session. A session that is gone
    /// simply drops it.
    pub(crate) fn hand_back(mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(self);
        }
    }
}

/// Why a policy could not step a batch.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    #[error("model {model}: {source}")]
    Policy { model: String, source: PolicyError },
    #[error("model {model} panicked during a step")]
    Panicked { model: String },
    #[error("model {model} returned {got} controllers for {expected} ports")]
    Count {
        model: String,
        expected: usize,
        got: usize,
    },
}

/// A fixed set of worker threads fed from one queue.
pub struct ComputePool {
    /// `None` once dropping: closing the queue is what stops the workers.
    jobs: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl ComputePool {
    /// Starts `threads` workers (at least one), each batching up to
    /// `max_batch` ports per step (1: no cross-session batching) and
    /// counting each model's steps into `figures`.
    pub fn new(threads: usize, max_batch: usize, figures: Arc<ModelTable>) -> ComputePool {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        let workers = (0..threads.max(1))
            .map(|i| {
                let queue = queue.clone();
                let max_batch = max_batch.max(1);
                let figures = figures.clone();
                thread::Builder::new()
                    .name(format!("fourstock-compute-{i}"))
                    .spawn(move || work(queue, max_batch, &figures))
                    .expect("spawning a compute thread")
            })
            .collect();
        ComputePool {
            jobs: Some(jobs),
            workers,
        }
    }

    /// Queues a job. Workers live as long as the pool, so this cannot fail
    /// while `self` exists.
    pub fn submit(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }
}

impl Drop for ComputePool {
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn work(queue: Receiver<Job>, max_batch: usize, figures: &ModelTable) {
    let mut jobs = Vec::new();
    while let Ok(first) = queue.recv() {
        let mut ports = first.ports.len();
        jobs.push(first);
        while ports < max_batch {
            match queue.try_recv() {
                Ok(job) => {
                    ports += job.ports.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        step(&mut jobs, figures);
        jobs.drain(..).for_each(Job::hand_back);
    }
}

/// Steps every port of every job once, one policy call per distinct policy,
/// and fills each job's outputs (or the failure that stopped its policy).
/// Each call counts into its model's `figures`. The compute threads and the
/// event loops' inline steps both use it.
pub(crate) fn step(jobs: &mut [Job], figures: &ModelTable) {
    for job in jobs.iter_mut() {
        job.outputs = Some(Ok(vec![ControllerState::NEUTRAL; job.ports.len()]));
    }
    // (job, port) pairs not yet stepped, in job order.
    let mut todo: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| (0..job.ports.len()).map(move |p| (j, p)))
        .collect();
    while let Some(&(j0, p0)) = todo.first() {
        let policy = jobs[j0].ports[p0].policy.clone();
        let (members, rest): (Vec<_>, Vec<_>) = todo
            .into_iter()
            .partition(|&(j, p)| Arc::ptr_eq(&jobs[j].ports[p].policy, &policy));
        todo = rest;
        let started = Instant::now();
        let stepped = run_policy(&policy, jobs, &members);
        if stepped.is_ok() {
            figures
                .of(&policy.info().name)
                .stepped(members.len(), started.elapsed());
        }
        match stepped {
            Ok(controllers) => {
                for (&(j, p), controller) in members.iter().zip(controllers) {
                    if let Some(Ok(out)) = &mut jobs[j].outputs {
                        out[p] = controller;
                    }
                }
            }
            Err(failure) => {
                let failure = Arc::new(failure);
                for &(j, _) in &members {
                    jobs[j].outputs = Some(Err(failure.clone()));
                }
            }
        }
    }
}

/// One batched step of `policy` over the given (job, port) pairs.
fn run_policy(
    policy: &Arc<dyn Policy>,
    jobs: &mut [Job],
    members: &[(usize, usize)],
) -> Result<Vec<ControllerState>, StepFailure> {
    let model = || policy.info().name.clone();
    let mut requests: Vec<StepRequest<'_>> = Vec::with_capacity(members.len());
    let mut taken = members.iter().peekable();
    for (j, job) in jobs.iter_mut().enumerate() {
        let frame: &Frame = &job.frame;
        for (p, work) in job.ports.iter_mut().enumerate() {
            if taken.peek() == Some(&&(j, p)) {
                taken.next();
                requests.push(StepRequest {
                    frame,
                    port: work.port,
                    state: &mut work.state,
                });
            }
        }
    }
    let controllers = match catch_unwind(AssertUnwindSafe(|| policy.step(&mut requests))) {
        Ok(Ok(controllers)) => controllers,
        Ok(Err(source)) => {
            return Err(StepFailure::Policy {
                model: model(),
                source,
            })
        }
        Err(_) => return Err(StepFailure::Panicked { model: model() }),
    };
    if controllers.len() != members.len() {
        return Err(StepFailure::Count {
            model: model(),
            expected: members.len(),
            got: controllers.len(),
        });
    }
    Ok(controllers)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use fourstock_proto::{PlayerFrame, StageState};
    use fourstock_recurrent::{CellKind, FeatureConfig, PolicyConfig, RecurrentPolicy};

    fn frame(n: i32) -> Frame {
        let player = |port: u8| PlayerFrame {
            action_state: (14 + n % 30) as u16,
            x: (n as f32 * 0.7 + port as f32 * 10.0).sin() * 50.0,
            facing_right: n % 2 == 0,
            percent: n as f32,
            ..PlayerFrame::new(port, 2)
        };
        Frame {
            frame: n,
            stage: 31,
            stage_state: StageState::NONE,
            players: vec![player(1), player(2)],
        }
    }

    /// A small untrained LSTM or GRU policy (also for other modules' tests).
    pub(crate) fn policy(name: &str, cell: CellKind) -> Arc<dyn Policy> {
        let config = PolicyConfig {
            name: name.into(),
            description: String::new(),
            trained: false,
            cell,
            hidden_sizes: vec![32, 32],
            features: FeatureConfig::default(),
            delay: 0,
            reset: Default::default(),
            decoding: Default::default(),
            characters: Vec::new(),
        };
        Arc::new(RecurrentPolicy::initialize(config, 7).unwrap())
    }

    /// The states after `steps` frames, as flat vectors.
    fn flat(state: &PolicyState) -> Vec<f32> {
        state
            .tensors
            .iter()
            .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
            .collect()
    }

    #[test]
    fn a_batch_of_sessions_equals_each_session_stepped_alone() {
        let models = [policy("a", CellKind::Lstm), policy("b", CellKind::Gru)];
        // Six sessions: two ports each, alternating models, each on its own frames.
        let sessions = 6;
        let mut alone: Vec<Vec<PortWork>> = Vec::new();
        let mut batched: Vec<Vec<PortWork>> = Vec::new();
        for s in 0..sessions {
            let model = &models[s % 2];
            let ports = |_: ()| -> Vec<PortWork> {
                (1..=2u8)
                    .map(|port| PortWork {
                        policy: model.clone(),
                        port,
                        state: model.initial_state(s as u64 * 10 + port as u64),
                    })
                    .collect()
            };
            alone.push(ports(()));
            batched.push(ports(()));
        }
        let job = |frame: Arc<Frame>, ports| Job {
            frame,
            ports,
            outputs: None,
            done: None,
        };
        for n in 0..12 {
            let mut jobs: Vec<Job> = batched
                .drain(..)
                .enumerate()
                .map(|(s, ports)| job(Arc::new(frame(n * 7 + s as i32)), ports))
                .collect();
            step(&mut jobs, &ModelTable::none());
            for (s, together) in jobs.into_iter().enumerate() {
                let mut single = [job(together.frame.clone(), std::mem::take(&mut alone[s]))];
                step(&mut single, &ModelTable::none());
                let solo = single[0].outputs.take().unwrap().unwrap();
                assert_eq!(
                    together.outputs.unwrap().unwrap(),
                    solo,
                    "session {s} frame {n}: same controllers"
                );
                let [single] = single;
                for (a, b) in single.ports.iter().zip(&together.ports) {
                    for (x, y) in flat(&a.state).iter().zip(flat(&b.state)) {
                        assert!(
                            (x - y).abs() < 1e-5,
                            "session {s} frame {n}: state {x} vs {y}"
                        );
                    }
                }
                alone[s] = single.ports;
                batched.push(together.ports);
            }
        }
    }
}
