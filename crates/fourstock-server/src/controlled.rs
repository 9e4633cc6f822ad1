//! A port the daemon plays: its policy and where it steps, the player it
//! imitates, its recurrent state, the reaction delay queue and the last
//! controller sent.

use std::collections::VecDeque;
use std::sync::Arc;

use fourstock_policy::{PlayerName, Policy, PolicyState, ResetCause};
use fourstock_proto::ControllerState;

use crate::compute::PortWork;
use crate::placement::Placement;

pub struct ControlledPort {
    pub port: u8,
    policy: Arc<dyn Policy>,
    placement: Arc<Placement>,
    /// Seeds the sampling stream at every reset, so a reset session and a
    /// fresh one draw the same numbers.
    seed: u64,
    /// The name code every fresh state carries: the player chosen at the
    /// handshake, kept through every reset.
    name_code: Option<u32>,
    /// `None` while a compute job holds it.
    state: Option<PolicyState>,
    /// Actions computed but not yet due: the reply to frame t carries the
    /// action computed at frame t - delay.
    queue: VecDeque<ControllerState>,
    last_sent: ControllerState,
}

impl ControlledPort {
    /// A port playing `policy` as `player` (from [`Policy::player_name`]).
    pub fn new(
        port: u8,
        policy: Arc<dyn Policy>,
        placement: Arc<Placement>,
        player: Option<&PlayerName>,
        seed: u64,
    ) -> ControlledPort {
        let mut port = ControlledPort {
            port,
            policy,
            placement,
            seed,
            name_code: player.map(|p| p.code),
            state: None,
            queue: VecDeque::new(),
            last_sent: ControllerState::NEUTRAL,
        };
        port.state = Some(port.fresh_state());
        port
    }

    /// The policy's initial state, imitating this port's player.
    fn fresh_state(&self) -> PolicyState {
        let mut state = self.policy.initial_state(self.seed);
        state.name_code = self.name_code;
        state
    }

    /// The most ports an inline batch of this port's model takes, or `None`
    /// if it steps on the compute threads.
    pub fn inline_rows(&self) -> Option<usize> {
        self.placement.inline_rows()
    }

    /// Whether this port's policy resets on `cause`.
    pub fn resets_on(&self, cause: ResetCause) -> bool {
        self.policy.info().reset.applies(cause)
    }

    /// Back to the state of a fresh session: initial recurrent state (the
    /// same player imitated), no queued actions.
    pub fn reset(&mut self) {
        self.state = Some(self.fresh_state());
        self.queue.clear();
    }

    /// Hands the state to a compute job; `None` if the state is not home: a
    /// job holds it, or it was lost with a job that never came back.
    pub fn take_work(&mut self) -> Option<PortWork> {
        Some(PortWork {
            policy: self.policy.clone(),
            port: self.port,
            state: self.state.take()?,
        })
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fourstock_policy::ModelRegistry;
    use fourstock_recurrent::CellKind;

    use super::*;
    use crate::compute::tests::policy;
    use crate::placement::Placements;

    #[test]
    fn a_state_out_with_a_job_is_not_handed_out_again() {
        let policy = policy("tiny", CellKind::Lstm);
        let registry = ModelRegistry::single(policy.clone());
        let placement = Placements::decide(&registry, Duration::from_millis(4), false).of(&policy);
        let mut port = ControlledPort::new(1, policy, placement, None, 0);
        let work = port.take_work().expect("a fresh port's state is home");
        assert!(port.take_work().is_none(), "a job holds the state");
        port.put_back(work);
        assert!(port.take_work().is_some(), "the state came back");
    }
}
