//! A port the daemon plays: its policy, its recurrent state, the reaction
//! delay queue and the last controller sent.

use std::collections::VecDeque;
use std::sync::Arc;

use fourstock_policy::{Policy, PolicyState};
use fourstock_proto::ControllerState;

use crate::compute::PortWork;
use crate::lifecycle::ResetCause;

pub struct ControlledPort {
    pub port: u8,
    policy: Arc<dyn Policy>,
    /// Seeds the sampling stream at every reset, so a reset session and a
    /// fresh one draw the same numbers.
    seed: u64,
    /// `None` while a compute job holds it.
    state: Option<PolicyState>,
    /// Actions computed but not yet due: the reply to frame t carries the
    /// action computed at frame t - delay.
    queue: VecDeque<ControllerState>,
    last_sent: ControllerState,
}

impl ControlledPort {
    pub fn new(port: u8, policy: Arc<dyn Policy>, seed: u64) -> ControlledPort {
        let state = policy.initial_state(seed);
        ControlledPort {
            port,
            policy,
            seed,
            state: Some(state),
            queue: VecDeque::new(),
            last_sent: ControllerState::NEUTRAL,
        }
    }

    /// Whether this port's policy resets on `cause`.
    pub fn resets_on(&self, cause: ResetCause) -> bool {
        let rule = self.policy.info().reset;
        match cause {
            ResetCause::NewMatch => rule.new_match,
            ResetCause::StockLoss => rule.stock_loss,
        }
    }

    /// Back to the state of a fresh session: initial recurrent state, no
    /// queued actions.
    pub fn reset(&mut self) {
        self.state = Some(self.policy.initial_state(self.seed));
        self.queue.clear();
    }

    /// Hands the state to a compute job. Panics if a job already holds it:
    /// a session has at most one job in flight.
    pub fn take_work(&mut self) -> PortWork {
        PortWork {
            policy: self.policy.clone(),
            port: self.port,
            state: self.state.take().expect("one job in flight per session"),
        }
    }

    pub fn put_back(&mut self, work: PortWork) {
        self.state = Some(work.state);
    }

    /// Queues a freshly computed action and returns the one due now.
    pub fn push_action(&mut self, action: ControllerState) -> ControllerState {
        self.queue.push_back(action);
        if self.queue.len() > self.policy.info().delay as usize {
            self.queue.pop_front().unwrap_or(ControllerState::NEUTRAL)
        } else {
            ControllerState::NEUTRAL
        }
    }

    pub fn last_sent(&self) -> ControllerState {
        self.last_sent
    }

    pub fn record_sent(&mut self, controller: ControllerState) {
        self.last_sent = controller;
    }
}
