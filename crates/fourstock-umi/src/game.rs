//! One game the bot plays: its model, its port, its recurrent state, and
//! the stock counts that decide a reset.
//!
//! A game's state starts fresh on its first observation (`first`), and
//! starts over when either player's stock count drops, if the model's
//! [`ResetRule`](fourstock_policy::ResetRule) says so: the same stock-loss
//! rule the daemon's lifecycle applies. Every observation steps the state
//! exactly once; UMI has no rollback re-sends.

use std::sync::Arc;

use fourstock_policy::{Policy, PolicyState, ResetCause};
use fourstock_proto::Frame;

pub struct Game {
    pub policy: Arc<dyn Policy>,
    pub port: u8,
    /// `None` while the lane's step holds it.
    pub state: Option<PolicyState>,
    /// The seed every fresh state's sampling stream starts from: the
    /// session's `rng_seed`, so the same frames give the same actions
    /// whatever the game's handle.
    seed: u64,
    /// Each leader's stocks on the newest frame, by port.
    stocks: Vec<(u8, u8)>,
}

impl Game {
    pub fn new(policy: Arc<dyn Policy>, port: u8, seed: u64) -> Game {
        let state = Some(policy.initial_state(seed));
        Game {
            policy,
            port,
            state,
            seed,
            stocks: Vec::new(),
        }
    }

    /// Takes in the newest frame before it is stepped; returns the reset it
    /// causes, if any. `first` marks the game's first observation.
    pub fn observe(&mut self, frame: &Frame, first: bool) -> Option<ResetCause> {
        let before = std::mem::take(&mut self.stocks);
        self.stocks.extend(
            frame
                .players
                .iter()
                .filter(|p| !p.follower)
                .map(|p| (p.port, p.stocks)),
        );
        let cause = if first {
            Some(ResetCause::NewMatch)
        } else if before.iter().any(|&(port, was)| {
            self.stocks
                .iter()
                .any(|&(other, now)| other == port && now < was)
        }) {
            Some(ResetCause::StockLoss)
        } else {
            None
        };
        // A new game's state is fresh whatever its model's rule says.
        let cause =
            cause.filter(|&c| c == ResetCause::NewMatch || self.policy.info().reset.applies(c))?;
        self.state = Some(self.policy.initial_state(self.seed));
        Some(cause)
    }
}
