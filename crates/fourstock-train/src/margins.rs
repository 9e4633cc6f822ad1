//! How sure a comparison with the baselines is: the policy's margin over
//! "repeat the previous input" and "most frequent class" on each head and
//! on the mean, each with a 95% interval from resampling the scored
//! **players** (a bootstrap over people, not frames: one player's frames
//! are far from independent, and a held-out split is a handful of people).
//!
//! Each resample draws as many players as were scored, with replacement,
//! adds up their tallies and scores them again (`eval` says how: a
//! [`Unit`] is one player's tally there, and "most frequent" is refitted
//! on each draw, as it is fitted on the real split). The interval runs
//! from the 2.5th to the 97.5th percentile of the draws; the draw is
//! seeded, so it is reproducible. A percentile bootstrap is a few lines
//! over tallies `eval` already keeps, so it is written here rather than
//! taken from a statistics crate.

use std::fmt;

use rand::{Rng, SeedableRng};
use serde::Serialize;

/// A margin on the scored players, and its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// Resamples when nobody asks for another number: `fourstock eval`'s
/// default, and what a model card's intervals come from.
pub const RESAMPLES: usize = 1000;

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

/// What is resampled: one player's rows, which add up with another's.
pub(crate) trait Unit: Default {
    fn merge(&mut self, other: &Self);
    /// Per row of the table (each head, then the mean): F1 over repeat,
    /// over frequent, loss under repeat, under frequent.
    fn margins(&self) -> Vec<[f64; 4]>;
}

/// The margins of `players` together, with intervals from `resamples`
/// seeded draws of them, one row per name in `rows`; `None` without
/// players or draws.
pub(crate) fn resample<U: Unit>(
    players: &[U],
    rows: &[&'static str],
    resamples: usize,
    seed: u64,
) -> Option<Margins> {
    if players.is_empty() || resamples == 0 {
        return None;
    }
    let mut all = U::default();
    players.iter().for_each(|p| all.merge(p));
    let estimate = all.margins();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let draws: Vec<Vec<[f64; 4]>> = (0..resamples)
        .map(|_| {
            let mut drawn = U::default();
            for _ in 0..players.len() {
                drawn.merge(&players[rng.random_range(0..players.len())]);
            }
            drawn.margins()
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
    let heads = rows
        .iter()
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

    /// A player as frames on which the policy was right and frames on
    /// which repeat was; the one margin is the share of frames the policy
    /// wins minus the share repeat wins.
    #[derive(Clone, Default)]
    struct Votes {
        policy: f64,
        repeat: f64,
    }

    impl Unit for Votes {
        fn merge(&mut self, other: &Votes) {
            self.policy += other.policy;
            self.repeat += other.repeat;
        }

        fn margins(&self) -> Vec<[f64; 4]> {
            let margin = (self.policy - self.repeat) / (self.policy + self.repeat);
            vec![[margin; 4]]
        }
    }

    fn players(mix: &[(f64, f64)]) -> Vec<Votes> {
        mix.iter()
            .map(|&(policy, repeat)| Votes { policy, repeat })
            .collect()
    }

    #[test]
    fn players_all_alike_give_a_margin_sure_of_its_sign() {
        let all_alike = players(&[(30.0, 10.0); 12]);
        let m = resample(&all_alike, &["mean"], 500, 1).unwrap();
        let i = m.heads[0].f1_over_repeat;
        assert!((i.estimate - 0.5).abs() < 1e-12, "{i}");
        assert!(
            (i.low - 0.5).abs() < 1e-12 && (i.high - 0.5).abs() < 1e-12,
            "{i}"
        );
        assert_eq!((m.players, m.resamples, m.heads.len()), (12, 500, 1));
        assert_eq!(m.heads[0].head, "mean");
    }

    #[test]
    fn players_who_disagree_give_an_interval_across_zero() {
        // 7 players the policy wins, 5 repeat wins by more: pooled, 0.
        let mut mix = vec![(30.0, 10.0); 7];
        mix.extend([(2.0, 30.0); 5]);
        let disagree = players(&mix);
        let m = resample(&disagree, &["mean"], 500, 1).unwrap();
        let i = m.heads[0].f1_over_repeat;
        assert!(i.estimate.abs() < 1e-12, "{i}");
        assert!(i.low < -0.1 && 0.1 < i.high, "{i}");
        // Seeded: the same draws again; another seed, other draws.
        assert_eq!(resample(&disagree, &["mean"], 500, 1), Some(m.clone()));
        assert_ne!(resample(&disagree, &["mean"], 500, 2), Some(m));
        assert_eq!(resample(&disagree, &["mean"], 0, 1), None);
        assert_eq!(resample::<Votes>(&[], &["mean"], 10, 1), None);
    }
}
