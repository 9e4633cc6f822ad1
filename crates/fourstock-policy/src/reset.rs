//! When a port's recurrent state starts over: the events ([`ResetCause`])
//! and the rule a model was trained with ([`ResetRule`]).
//!
//! The default rule resets at every stock loss and every new match; a
//! model's config may name another (slippi-ai's agents reset only at a new
//! match). A policy must be served with the rule it was trained with, so
//! the daemon, the UMI bot and training all ask [`ResetRule::applies`].

use serde::{Deserialize, Serialize};

/// An event that may reset the recurrent state, as the [`crate::Lifecycle`]
/// finds it in the frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetCause {
    NewMatch,
    StockLoss,
}

/// The events that reset a policy's recurrent state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetRule {
    /// Reset when any player's stock count drops.
    pub stock_loss: bool,
    /// Reset at every new match.
    pub new_match: bool,
}

impl ResetRule {
    /// Whether `cause` resets a state under this rule.
    pub fn applies(self, cause: ResetCause) -> bool {
        match cause {
            ResetCause::NewMatch => self.new_match,
            ResetCause::StockLoss => self.stock_loss,
        }
    }
}

impl Default for ResetRule {
    /// fourstock's default: both.
    fn default() -> Self {
        ResetRule {
            stock_loss: true,
            new_match: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_governs_its_own_cause() {
        let slippi = ResetRule {
            stock_loss: false,
            new_match: true,
        };
        assert!(slippi.applies(ResetCause::NewMatch));
        assert!(!slippi.applies(ResetCause::StockLoss));
        let only_stocks = ResetRule {
            stock_loss: true,
            new_match: false,
        };
        assert!(!only_stocks.applies(ResetCause::NewMatch));
        assert!(only_stocks.applies(ResetCause::StockLoss));
        assert!(ResetRule::default().applies(ResetCause::StockLoss));
    }
}
