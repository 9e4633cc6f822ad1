//! The compute threads: every policy step runs here, never on the tokio I/O
//! threads.
//!
//! A session sends a [`StepJob`] holding the frame and the recurrent state of
//! each port it controls; a worker runs the step and hands the job back,
//! states advanced, through a oneshot channel. A session has at most one job
//! in flight, so its frames are stepped in order, and a slow session holds
//! at most one worker while the others go on serving everyone else.
//!
//! **Cross-session batching.** A worker that takes a job also takes the jobs
//! already waiting behind it, up to `max_batch` ports, and runs all ports
//! that share a policy as one batched step (states stacked, results
//! scattered back). It never waits for more work: a batch is only what is
//! pending at that moment, so batching costs no frame its deadline. Since
//! each session has one job in flight, a batch never holds two frames of one
//! session, and frames are never reordered.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use fourstock_policy::{Policy, PolicyState, StepRequest};
use fourstock_proto::{ControllerState, Frame};
use tokio::sync::oneshot;

/// One controlled port's part of a job.
pub struct PortWork {
    pub policy: Arc<dyn Policy>,
    pub port: u8,
    pub state: PolicyState,
}

/// One frame to step for one session.
pub struct StepJob {
    pub frame: Arc<Frame>,
    pub ports: Vec<PortWork>,
    pub done: oneshot::Sender<StepDone>,
}

/// A job handed back: the ports (states advanced unless `outputs` is an
/// error) and one controller per port, in job order.
pub struct StepDone {
    pub ports: Vec<PortWork>,
    pub outputs: Result<Vec<ControllerState>, String>,
}

/// A fixed set of worker threads fed from one queue.
pub struct ComputePool {
    jobs: Sender<StepJob>,
}

impl ComputePool {
    /// Starts `threads` workers (at least one), each batching up to
    /// `max_batch` ports per step (1: no cross-session batching).
    pub fn new(threads: usize, max_batch: usize) -> ComputePool {
        let (jobs, queue) = crossbeam_channel::unbounded::<StepJob>();
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let max_batch = max_batch.max(1);
            thread::Builder::new()
                .name(format!("fourstock-compute-{i}"))
                .spawn(move || work(queue, max_batch))
                .expect("spawning a compute thread");
        }
        ComputePool { jobs }
    }

    /// Queues a job. Workers live as long as the pool, so this cannot fail
    /// while `self` exists.
    pub fn submit(&self, job: StepJob) {
        let _ = self.jobs.send(job);
    }
}

fn work(queue: Receiver<StepJob>, max_batch: usize) {
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
        let outputs = step(&mut jobs);
        for (job, outputs) in jobs.drain(..).zip(outputs) {
            // The session may be gone; its job is then simply dropped.
            let _ = job.done.send(StepDone {
                ports: job.ports,
                outputs,
            });
        }
    }
}

/// Steps every port of every job once, one policy call per distinct policy.
/// Returns each job's outputs, or the error that stopped its policy.
fn step(jobs: &mut [StepJob]) -> Vec<Result<Vec<ControllerState>, String>> {
    let mut outputs: Vec<Result<Vec<ControllerState>, String>> = jobs
        .iter()
        .map(|job| Ok(vec![ControllerState::NEUTRAL; job.ports.len()]))
        .collect();
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
        let result = run_policy(&policy, jobs, &members);
        match result {
            Ok(controllers) => {
                for (&(j, p), controller) in members.iter().zip(controllers) {
                    if let Ok(out) = &mut outputs[j] {
                        out[p] = controller;
                    }
                }
            }
            Err(error) => {
                for &(j, _) in &members {
                    outputs[j] = Err(error.clone());
                }
            }
        }
    }
    outputs
}

/// One batched step of `policy` over the given (job, port) pairs.
fn run_policy(
    policy: &Arc<dyn Policy>,
    jobs: &mut [StepJob],
    members: &[(usize, usize)],
) -> Result<Vec<ControllerState>, String> {
    let name = &policy.info().name;
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
        Ok(Err(error)) => return Err(format!("policy {name}: {error}")),
        Err(_) => return Err(format!("policy {name} panicked")),
    };
    if controllers.len() != members.len() {
        return Err(format!(
            "policy {name} returned {} controllers for {} ports",
            controllers.len(),
            members.len()
        ));
    }
    Ok(controllers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_policy::{CellKind, FeatureConfig, PolicyConfig, RecurrentPolicy};
    use fourstock_proto::{PlayerFrame, StageState};

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

    fn policy(name: &str, cell: CellKind) -> Arc<dyn Policy> {
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
        for n in 0..12 {
            let mut jobs: Vec<StepJob> = batched
                .drain(..)
                .enumerate()
                .map(|(s, ports)| StepJob {
                    frame: Arc::new(frame(n * 7 + s as i32)),
                    ports,
                    done: oneshot::channel().0,
                })
                .collect();
            let together = step(&mut jobs);
            for (s, (job, outputs)) in jobs.into_iter().zip(together).enumerate() {
                let mut single = [StepJob {
                    frame: job.frame.clone(),
                    ports: std::mem::take(&mut alone[s]),
                    done: oneshot::channel().0,
                }];
                let solo = step(&mut single).remove(0).unwrap();
                assert_eq!(
                    outputs.unwrap(),
                    solo,
                    "session {s} frame {n}: same controllers"
                );
                let [single] = single;
                for (a, b) in single.ports.iter().zip(&job.ports) {
                    for (x, y) in flat(&a.state).iter().zip(flat(&b.state)) {
                        assert!(
                            (x - y).abs() < 1e-5,
                            "session {s} frame {n}: state {x} vs {y}"
                        );
                    }
                }
                alone[s] = single.ports;
                batched.push(job.ports);
            }
        }
    }
}
