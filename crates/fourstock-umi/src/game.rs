//! One game the bot plays: its model, its port, its recurrent state, and
//! the stock counts that decide a reset.
//!
//! A game's state starts fresh on its first observation (`first`), and
//! starts over when either player's stock count drops, if the model's
//! [`ResetRule`](fourstock_policy::ResetRule) says so: the daemon's
//! lifecycle reads stock losses through the same
//! [`Stocks`](fourstock_policy::Stocks). Every observation steps the state
//! exactly once; UMI has no rollback re-sends.

use std::sync::Arc;

use fourstock_policy::{Policy, PolicyState, ResetCause, Stocks};
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
    /// Each leader's stocks on the newest frame.
    stocks: Stocks,
}

impl Game {
    pub fn new(policy: Arc<dyn Policy>, port: u8, seed: u64) -> Game {
        let state = Some(policy.initial_state(seed));
        Game {
            policy,
            port,
            state,
            seed,
            stocks: Stocks::default(),
        }
    }

    /// Takes in the newest frame before it is stepped; returns the reset it
    /// causes, if any. `first` marks the game's first observation.
    pub fn observe(&mut self, frame: &Frame, first: bool) -> Option<ResetCause> {
        let now = Stocks::of(frame);
        let lost = now.lost_since(&self.stocks);
        self.stocks = now;
        let cause = if first {
            Some(ResetCause::NewMatch)
        } else if lost {
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

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_policy::{PolicyError, PolicyInfo, ResetRule, StepRequest};
    use fourstock_proto::{ControllerState, PlayerFrame, StageState};
    use rand::{RngCore, SeedableRng};

    /// A policy whose fresh states carry `name_code` 0; tests mark a used
    /// state by setting it.
    struct Fresh(PolicyInfo);

    impl Policy for Fresh {
        fn info(&self) -> &PolicyInfo {
            &self.0
        }
        fn initial_state(&self, seed: u64) -> PolicyState {
            PolicyState {
                tensors: Vec::new(),
                rng: rand::rngs::StdRng::seed_from_u64(seed),
                name_code: Some(0),
                extras: None,
            }
        }
        fn step(&self, _: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
            unreachable!("not stepped here")
        }
    }

    fn policy(stock_loss: bool) -> Arc<dyn Policy> {
        Arc::new(Fresh(PolicyInfo {
            name: "fresh".into(),
            cell: "lstm".into(),
            input_size: 1,
            hidden_sizes: vec![1],
            delay: 0,
            reset: ResetRule {
                stock_loss,
                new_match: true,
            },
            characters: Vec::new(),
            fixed_cost: true,
        }))
    }

    fn frame(stocks: [u8; 2]) -> Frame {
        Frame {
            frame: 0,
            stage: 31,
            stage_state: StageState::NONE,
            players: vec![
                PlayerFrame {
                    stocks: stocks[0],
                    ..PlayerFrame::new(1, 2)
                },
                PlayerFrame {
                    stocks: stocks[1],
                    ..PlayerFrame::new(2, 20)
                },
            ],
        }
    }

    fn used(game: &mut Game) {
        game.state.as_mut().unwrap().name_code = Some(1);
    }

    fn fresh(game: &Game) -> bool {
        game.state.as_ref().unwrap().name_code == Some(0)
    }

    #[test]
    fn a_stock_loss_resets_only_under_a_rule_that_says_so() {
        for rule in [true, false] {
            let mut game = Game::new(policy(rule), 1, 0);
            assert_eq!(
                game.observe(&frame([4, 4]), true),
                Some(ResetCause::NewMatch)
            );
            used(&mut game);
            assert_eq!(game.observe(&frame([4, 4]), false), None);
            let lost = game.observe(&frame([4, 3]), false);
            assert_eq!(lost, rule.then_some(ResetCause::StockLoss), "rule {rule}");
            assert_eq!(fresh(&game), rule);
            used(&mut game);
            // The same count again is no loss; a regained stock neither.
            assert_eq!(game.observe(&frame([4, 3]), false), None);
            assert_eq!(game.observe(&frame([4, 4]), false), None);
            assert!(!fresh(&game));
        }
    }

    #[test]
    fn first_always_starts_fresh_with_the_session_seed() {
        let mut game = Game::new(policy(false), 1, 42);
        used(&mut game);
        game.state.as_mut().unwrap().rng.next_u64();
        assert_eq!(
            game.observe(&frame([2, 1]), true),
            Some(ResetCause::NewMatch)
        );
        assert!(fresh(&game));
        let mut seeded = rand::rngs::StdRng::seed_from_u64(42);
        assert_eq!(
            game.state.as_mut().unwrap().rng.next_u64(),
            seeded.next_u64()
        );
    }
}
