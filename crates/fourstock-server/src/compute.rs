//! The compute threads: every policy step runs here, never on the tokio I/O
//! threads.
//!
//! A session sends a [`StepJob`] holding the frame and the recurrent state of
//! each port it controls; a worker runs the step and hands the job back,
//! states advanced, through a oneshot channel. A session has at most one job
//! in flight, so its frames are stepped in order, and a slow session holds
//! at most one worker while the others go on serving everyone else.

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
    /// Starts `threads` workers (at least one).
    pub fn new(threads: usize) -> ComputePool {
        let (jobs, queue) = crossbeam_channel::unbounded::<StepJob>();
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            thread::Builder::new()
                .name(format!("fourstock-compute-{i}"))
                .spawn(move || work(queue))
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

fn work(queue: Receiver<StepJob>) {
    while let Ok(mut job) = queue.recv() {
        let outputs = step(&job.frame, &mut job.ports);
        // The session may be gone; its job is then simply dropped.
        let _ = job.done.send(StepDone {
            ports: job.ports,
            outputs,
        });
    }
}

/// Steps every port once, one policy call per distinct policy.
fn step(frame: &Frame, ports: &mut [PortWork]) -> Result<Vec<ControllerState>, String> {
    let mut outputs = vec![ControllerState::NEUTRAL; ports.len()];
    let mut done = vec![false; ports.len()];
    for first in 0..ports.len() {
        if done[first] {
            continue;
        }
        let policy = ports[first].policy.clone();
        let members: Vec<usize> = (first..ports.len())
            .filter(|&i| !done[i] && Arc::ptr_eq(&ports[i].policy, &policy))
            .collect();
        let mut requests: Vec<StepRequest<'_>> = ports
            .iter_mut()
            .enumerate()
            .filter(|(i, _)| members.contains(i))
            .map(|(_, work)| StepRequest {
                frame,
                port: work.port,
                state: &mut work.state,
            })
            .collect();
        let result = catch_unwind(AssertUnwindSafe(|| policy.step(&mut requests)));
        let controllers = match result {
            Ok(Ok(controllers)) => controllers,
            Ok(Err(error)) => return Err(format!("policy {}: {error}", policy.info().name)),
            Err(_) => return Err(format!("policy {} panicked", policy.info().name)),
        };
        if controllers.len() != members.len() {
            return Err(format!(
                "policy {} returned {} controllers for {} ports",
                policy.info().name,
                controllers.len(),
                members.len()
            ));
        }
        for (&i, controller) in members.iter().zip(controllers) {
            outputs[i] = controller;
            done[i] = true;
        }
    }
    Ok(outputs)
}
