//! How sure a comparison with the baselines is: the policy's margin over
//! "repeat the previous input" and "most frequent class" on each head and
//! on the mean, each with a 95% interval from resampling the scored
//! **players** (a bootstrap over people, not frames: one player's frames
//! are far from independent, and a held-out split is a handful of people).
//!
//! Each resample draws as many players as were scored, with replacement,
//! adds up their tallies and scores the three predictors again ("most
//! frequent" is refitted on each draw, as it is fitted on the real
//! split). The interval runs from the 2.5th to the 97.5th percentile of
//! the draws; the draw is seeded, so it is reproducible. A percentile
//! bootstrap is a few lines over the tallies `eval` already keeps, so it
//! is written here rather than taken from a statistics crate.

use std::fmt;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::eval::{Evaluation, Scores, Tally, HEADS};

/// A margin on the scored players, and its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// One head's margins (or the mean row's: mean F1 and summed loss). Each
/// is positive when the policy does better: F1 is the policy's minus the
/// baseline's, loss the baseline's minus the policy's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HeadMargins {
    pub head: &'static str,
    pub f1_over_repeat: Interval,
    pub f1_over_frequent: Interval,
    pub loss_under_repeat: Interval,
    pub loss_under_frequent: Interval,
}

/// The margins of every head, then of the mean.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Margins {
    pub resamples: usize,
    pub players: usize,
    pub heads: Vec<HeadMargins>,
}

/// Per head, then the mean: F1 over repeat, over frequent, loss under
/// repeat, under frequent.
fn margins_of(tally: &Tally) -> Vec<[f64; 4]> {
    let (p, r, q) = (tally.policy(), tally.repeat(), tally.frequent());
    let mut rows: Vec<[f64; 4]> = (0..HEADS.len())
        .map(|h| {
            [
                p[h].f1 - r[h].f1,
                p[h].f1 - q[h].f1,
                r[h].loss - p[h].loss,
                q[h].loss - p[h].loss,
            ]
        })
        .collect();
    let mean_f1 = |s: &Scores| s.iter().map(|h| h.f1).sum::<f64>() / s.len() as f64;
    let loss = |s: &Scores| s.iter().map(|h| h.loss).sum::<f64>();
    rows.push([
        mean_f1(&p) - mean_f1(&r),
        mean_f1(&p) - mean_f1(&q),
        loss(&r) - loss(&p),
        loss(&q) - loss(&p),
    ]);
    rows
}

/// The margins on `players` together, with intervals from `resamples`
/// seeded draws of them; `None` without players or draws.
pub(crate) fn resample(players: &[Tally], resamples: usize, seed: u64) -> Option<Margins> {
    if players.is_empty() || resamples == 0 {
        return None;
    }
    let mut all = Tally::default();
    players.iter().for_each(|p| all.merge(p));
    let estimate = margins_of(&all);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let draws: Vec<Vec<[f64; 4]>> = (0..resamples)
        .map(|_| {
            let mut drawn = Tally::default();
            for _ in 0..players.len() {
                drawn.merge(&players[rng.random_range(0..players.len())]);
            }
            margins_of(&drawn)
        })
        .collect();
    let interval = |row: usize, column: usize| {
        let mut values: Vec<f64> = draws.iter().map(|d| d[row][column]).collect();
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((q * resamples as f64) as usize).min(resamples - 1)];
        Interval {
            estimate: estimate[row][column],
            low: at(0.025),
            high: at(0.975),
        }
    };
    let heads = HEADS
        .iter()
        .chain(&["mean"])
        .enumerate()
        .map(|(row, &head)| HeadMargins {
            head,
            f1_over_repeat: interval(row, 0),
            f1_over_frequent: interval(row, 1),
            loss_under_repeat: interval(row, 2),
            loss_under_frequent: interval(row, 3),
        })
        .collect();
    Some(Margins {
        resamples,
        players: players.len(),
        heads,
    })
}

impl Evaluation {
    /// Fills [`Evaluation::margins`] from `resamples` seeded draws of the
    /// scored players (none when 0).
    pub fn resample(&mut self, resamples: usize, seed: u64) {
        self.margins = resample(&self.players, resamples, seed);
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:+.4} [{:+.4}, {:+.4}]",
            self.estimate, self.low, self.high
        )
    }
}

impl fmt::Display for Margins {
    /// A Markdown table, one row per head and the mean.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Margins over the baselines, positive where the policy does better (F1: the policy's \
             minus the baseline's; loss: the baseline's minus the policy's), with 95% intervals \
             from {} resamples of the {} players:",
            self.resamples, self.players
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| head | F1 over repeat | F1 over frequent | loss under repeat | loss under frequent |"
        )?;
        writeln!(f, "|---|---:|---:|---:|---:|")?;
        for h in &self.heads {
            writeln!(
                f,
                "| {} | {} | {} | {} | {} |",
                h.head,
                h.f1_over_repeat,
                h.f1_over_frequent,
                h.loss_under_repeat,
                h.loss_under_frequent
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "(the mean row: mean F1 over the heads, and the loss summed over them)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;
    use fourstock_recurrent::action;

    const NEUTRAL: Target = Target {
        buttons: [false; action::BUTTONS.len()],
        sticks: [8; action::STICK_AXES],
        shoulder: 0,
    };

    /// Logits sure of `t`.
    fn sure_of(t: &Target) -> Vec<f32> {
        let mut row = vec![-6.0f32; action::SIZE];
        for (slot, &pressed) in row.iter_mut().zip(&t.buttons) {
            *slot = if pressed { 6.0 } else { -6.0 };
        }
        for (axis, &class) in t.sticks.iter().enumerate() {
            row[action::STICKS_AT + axis * action::STICK_CLASSES + class as usize] = 6.0;
        }
        row[action::SHOULDER_AT + t.shoulder as usize] = 6.0;
        row
    }

    /// A player who alternates A pressed and released every frame: repeat
    /// is always wrong, the policy always right.
    fn alternating(tally: &mut Tally, frames: usize) {
        let mut a = NEUTRAL;
        a.buttons[0] = true;
        for i in 0..frames {
            let (held, want) = if i % 2 == 0 {
                (NEUTRAL, a)
            } else {
                (a, NEUTRAL)
            };
            tally.add(&sure_of(&want), None, &held, &want, false);
        }
    }

    /// A player who holds A throughout: repeat is right, the policy never
    /// presses it.
    fn holding(tally: &mut Tally, frames: usize) {
        let mut a = NEUTRAL;
        a.buttons[0] = true;
        for _ in 0..frames {
            tally.add(&sure_of(&NEUTRAL), None, &a, &a, false);
        }
    }

    fn player(play: fn(&mut Tally, usize), frames: usize) -> Tally {
        let mut tally = Tally::default();
        play(&mut tally, frames);
        tally
    }

    #[test]
    fn players_all_alike_give_a_margin_sure_of_its_sign() {
        let players: Vec<Tally> = (0..12).map(|k| player(alternating, 40 + k)).collect();
        let m = resample(&players, 500, 1).unwrap();
        let i = m.heads[0].f1_over_repeat;
        assert!(i.estimate > 0.0 && i.low > 0.0, "{i}");
        assert_eq!((m.players, m.resamples, m.heads.len()), (12, 500, 7));
        assert_eq!(m.heads[6].head, "mean");
    }

    #[test]
    fn players_who_disagree_give_an_interval_across_zero() {
        // 7 players the policy reads and repeat does not, 5 the other way
        // round: pooled, A's F1 is 7/12 for the policy and 10/17 for
        // repeat, nearly even; which side wins depends on who is drawn.
        let players: Vec<Tally> = (0..12)
            .map(|k| player(if k < 7 { alternating } else { holding }, 40))
            .collect();
        let m = resample(&players, 500, 1).unwrap();
        let i = m.heads[0].f1_over_repeat;
        assert!(
            (i.estimate - (7.0 / 12.0 - 10.0 / 17.0)).abs() < 1e-9,
            "{i}"
        );
        assert!(i.low < 0.0 && 0.0 < i.high, "{i}");
        // Seeded: the same draws again.
        assert_eq!(resample(&players, 500, 1), Some(m));
        assert_eq!(resample(&players, 0, 1), None);
        assert_eq!(resample(&[], 10, 1), None);
    }

    #[test]
    fn merged_tallies_score_as_one_tally_of_all_the_rows() {
        let mut merged = player(alternating, 30);
        merged.merge(&player(holding, 50));
        let mut together = Tally::default();
        alternating(&mut together, 30);
        holding(&mut together, 50);
        let (m, t) = (merged.scored(2, 2), together.scored(2, 2));
        assert_eq!(m.frames, 80);
        for (a, b) in [
            (&m.policy, &t.policy),
            (&m.repeat, &t.repeat),
            (&m.frequent, &t.frequent),
        ] {
            for (x, y) in a.iter().zip(b.iter()) {
                assert_eq!((x.accuracy, x.f1), (y.accuracy, y.f1), "{}", x.head);
                assert_eq!(x.classes, y.classes, "{}", x.head);
                assert!((x.loss - y.loss).abs() < 1e-12, "{}", x.head);
            }
        }
        assert_eq!(m.policy_extras.airdodge, t.policy_extras.airdodge);
        assert_eq!(
            m.policy_extras.main_stick_moved_f1,
            t.policy_extras.main_stick_moved_f1
        );
    }
}
