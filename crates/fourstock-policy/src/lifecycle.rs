//! The hidden-state lifecycle of a session: which frames step the policies,
//! which are rollback re-sends, and which reset the recurrent state.
//!
//! This is pure bookkeeping over frame numbers, stages, rosters and stock
//! counts; a front end applies its verdicts, and training runs the same
//! bookkeeping over each game so that it resets exactly where serving
//! does. Rules:
//! - the first frame of a session, the first frame after `MatchStart` or
//!   `MatchEnd`, a frame counter that goes back to the match's start, and a
//!   changed stage or roster all begin a **new match** (Zelda turning into
//!   Sheik and back is not a change of roster);
//! - a frame number at or below the newest one seen is a **rollback
//!   re-send**: it is answered again, not stepped;
//! - a leader player's stock count dropping is a **stock loss**;
//! - a jump forward by more than one frame is a **gap**, counted.

use fourstock_proto::{melee, Frame, FIRST_FRAME};

use crate::reset::ResetCause;

/// What to do with an incoming frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Advance every controlled port once, after resetting if `reset` says so.
    /// `missing` frames were skipped since the previous one.
    Advance {
        reset: Option<ResetCause>,
        missing: u32,
    },
    /// A frame number already answered: send the same reply again.
    Resend,
}

/// What the lifecycle remembers about the newest frame.
#[derive(Debug)]
struct Seen {
    frame: i32,
    match_first: i32,
    stage: u16,
    /// (port, character) of every leader, in port order.
    roster: Vec<(u8, u8)>,
    stocks: Stocks,
}

/// Each leader's stock count on one frame, by port: what a stock loss is
/// read from. Followers (Nana) are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stocks([Option<u8>; 5]);

impl Stocks {
    /// The leaders' stock counts on `frame`.
    pub fn of(frame: &Frame) -> Stocks {
        let mut stocks = [None; 5];
        for p in frame.players.iter().filter(|p| !p.follower) {
            if let Some(slot) = stocks.get_mut(p.port as usize) {
                *slot = Some(p.stocks);
            }
        }
        Stocks(stocks)
    }

    /// Whether a port counted in `before` has fewer stocks now: a stock
    /// loss. A port seen only once is no loss; a regained stock neither.
    pub fn lost_since(&self, before: &Stocks) -> bool {
        self.0
            .iter()
            .zip(&before.0)
            .any(|pair| matches!(pair, (Some(now), Some(was)) if now < was))
    }
}

/// The lifecycle of one session.
#[derive(Debug, Default)]
pub struct Lifecycle {
    seen: Option<Seen>,
    /// Set by MatchStart and MatchEnd: the next frame begins a new match.
    new_match_pending: bool,
}

impl Lifecycle {
    pub fn new() -> Self {
        Self::default()
    }

    /// The client announced a new match.
    pub fn match_start(&mut self) {
        self.new_match_pending = true;
    }

    /// The client announced the end of the match.
    pub fn match_end(&mut self) {
        self.new_match_pending = true;
    }

    /// Classifies `frame` and remembers it.
    pub fn observe(&mut self, frame: &Frame) -> Verdict {
        let roster = roster(frame);
        let stocks = Stocks::of(frame);
        let new_match = match &self.seen {
            None => true,
            Some(_) if self.new_match_pending => true,
            Some(seen) => {
                seen.stage != frame.stage
                    || seen.roster != roster
                    || (frame.frame < seen.frame
                        && frame.frame <= seen.match_first.max(FIRST_FRAME))
            }
        };
        if new_match {
            self.new_match_pending = false;
            self.seen = Some(Seen {
                frame: frame.frame,
                match_first: frame.frame,
                stage: frame.stage,
                roster,
                stocks,
            });
            return Verdict::Advance {
                reset: Some(ResetCause::NewMatch),
                missing: 0,
            };
        }
        let seen = self.seen.as_mut().expect("a match is under way");
        if frame.frame <= seen.frame {
            return Verdict::Resend;
        }
        let missing = (frame.frame as i64 - seen.frame as i64 - 1) as u32;
        let lost = stocks.lost_since(&seen.stocks);
        seen.frame = frame.frame;
        seen.stocks = stocks;
        Verdict::Advance {
            reset: lost.then_some(ResetCause::StockLoss),
            missing,
        }
    }
}

fn roster(frame: &Frame) -> Vec<(u8, u8)> {
    let mut roster: Vec<(u8, u8)> = frame
        .players
        .iter()
        .filter(|p| !p.follower)
        // A transformation is not a change of roster.
        .map(|p| (p.port, melee::roster_character(p.character)))
        .collect();
    roster.sort_unstable();
    roster
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_proto::melee::{SHEIK, ZELDA};
    use fourstock_proto::{PlayerFrame, StageState};

    fn player(port: u8, character: u8, stocks: u8) -> PlayerFrame {
        PlayerFrame {
            stocks,
            ..PlayerFrame::new(port, character)
        }
    }

    fn frame(n: i32, stocks: [u8; 2]) -> Frame {
        Frame {
            frame: n,
            stage: 31,
            stage_state: StageState::NONE,
            players: vec![player(1, 20, stocks[0]), player(2, 2, stocks[1])],
        }
    }

    const ADVANCE: Verdict = Verdict::Advance {
        reset: None,
        missing: 0,
    };
    const NEW_MATCH: Verdict = Verdict::Advance {
        reset: Some(ResetCause::NewMatch),
        missing: 0,
    };

    #[test]
    fn first_frame_is_a_new_match_then_frames_step() {
        let mut life = Lifecycle::new();
        assert_eq!(life.observe(&frame(-123, [4, 4])), NEW_MATCH);
        assert_eq!(life.observe(&frame(-122, [4, 4])), ADVANCE);
        assert_eq!(life.observe(&frame(-121, [4, 4])), ADVANCE);
    }

    #[test]
    fn stock_loss_resets_once() {
        let mut life = Lifecycle::new();
        life.observe(&frame(0, [4, 4]));
        assert_eq!(
            life.observe(&frame(1, [4, 3])),
            Verdict::Advance {
                reset: Some(ResetCause::StockLoss),
                missing: 0
            }
        );
        assert_eq!(life.observe(&frame(2, [4, 3])), ADVANCE);
    }

    #[test]
    fn repeated_frames_are_resent_not_stepped() {
        let mut life = Lifecycle::new();
        life.observe(&frame(10, [4, 4]));
        life.observe(&frame(11, [4, 4]));
        life.observe(&frame(12, [4, 4]));
        assert_eq!(life.observe(&frame(12, [4, 4])), Verdict::Resend);
        assert_eq!(life.observe(&frame(11, [4, 4])), Verdict::Resend);
        assert_eq!(life.observe(&frame(13, [4, 4])), ADVANCE);
    }

    #[test]
    fn gaps_are_counted() {
        let mut life = Lifecycle::new();
        life.observe(&frame(10, [4, 4]));
        assert_eq!(
            life.observe(&frame(15, [4, 4])),
            Verdict::Advance {
                reset: None,
                missing: 4
            }
        );
    }

    #[test]
    fn counter_back_to_start_stage_or_roster_change_is_a_new_match() {
        let mut life = Lifecycle::new();
        life.observe(&frame(-123, [4, 4]));
        life.observe(&frame(500, [2, 1]));
        assert_eq!(life.observe(&frame(-123, [4, 4])), NEW_MATCH);

        life.observe(&frame(-122, [4, 4]));
        let mut other_stage = frame(-121, [4, 4]);
        other_stage.stage = 32;
        assert_eq!(life.observe(&other_stage), NEW_MATCH);

        let mut other_roster = frame(-120, [4, 4]);
        other_roster.stage = 32;
        other_roster.players[1].character = 9;
        assert_eq!(life.observe(&other_roster), NEW_MATCH);
    }

    #[test]
    fn match_start_and_end_make_the_next_frame_a_new_match() {
        let mut life = Lifecycle::new();
        life.observe(&frame(-123, [4, 4]));
        life.observe(&frame(-122, [4, 4]));
        life.match_start();
        assert_eq!(life.observe(&frame(-121, [4, 4])), NEW_MATCH);
        life.match_end();
        assert_eq!(life.observe(&frame(-120, [4, 4])), NEW_MATCH);
        assert_eq!(life.observe(&frame(-119, [4, 4])), ADVANCE);
    }

    #[test]
    fn zelda_turning_into_sheik_is_not_a_new_match() {
        let mut life = Lifecycle::new();
        let mut f = frame(0, [4, 4]);
        f.players[0].character = ZELDA;
        life.observe(&f);
        f.frame = 1;
        f.players[0].character = SHEIK;
        assert_eq!(life.observe(&f), ADVANCE);
        f.frame = 2;
        f.players[1].character = SHEIK;
        assert_eq!(
            life.observe(&f),
            NEW_MATCH,
            "another port's character changing is"
        );
    }

    #[test]
    fn a_stock_regained_is_not_a_loss_and_followers_are_ignored() {
        let mut life = Lifecycle::new();
        life.observe(&frame(0, [3, 3]));
        let mut with_nana = frame(1, [3, 3]);
        let mut nana = player(1, 20, 0);
        nana.follower = true;
        with_nana.players.push(nana);
        assert_eq!(life.observe(&with_nana), ADVANCE);
        assert_eq!(life.observe(&frame(2, [4, 3])), ADVANCE);
    }
}
