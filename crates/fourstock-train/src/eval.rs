//! Held-out evaluation: per-head accuracy and loss of a policy, stepped
//! exactly as the daemon steps it (the serving core, its resets), beside two
//! baselines: "repeat the previous input" and "most frequent class".
//!
//! The baselines are fitted on the very frames they are scored on, which
//! flatters them: "repeat" predicts the controller the policy last saw (on
//! frame t, for the target on frame t + delay) and, for its loss, gives
//! that class the probability that the evaluated data keeps it; "most
//! frequent" predicts each head's commonest class and, for its loss, the
//! evaluated data's own class frequencies (its entropy).

use std::fmt;
use std::path::PathBuf;

use fourstock_policy::{Policy, PolicyError, StepRequest};
use fourstock_recurrent::{action, RecurrentPolicy};

use crate::dataset::{self, Selection};
use crate::sequence::Sequence;
use crate::target::Target;

/// The heads scored, in table order.
pub const HEADS: [&str; 6] = ["buttons", "main x", "main y", "c x", "c y", "shoulder"];

/// Accuracy and mean loss (nats) of one predictor on one head. For the
/// buttons, the mean over the 8 Bernoullis.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HeadScore {
    pub accuracy: f64,
    pub loss: f64,
}

/// One predictor's score on every head, in [`HEADS`] order.
pub type Scores = [HeadScore; 6];

/// A policy and both baselines on the same frames.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub model: String,
    pub files: usize,
    pub sequences: usize,
    pub frames: usize,
    pub policy: Scores,
    pub repeat: Scores,
    pub frequent: Scores,
}

impl Evaluation {
    /// The mean accuracy over the heads, one number per predictor
    /// (policy, repeat, frequent).
    pub fn mean_accuracy(&self) -> (f64, f64, f64) {
        let mean = |s: &Scores| s.iter().map(|h| h.accuracy).sum::<f64>() / s.len() as f64;
        (mean(&self.policy), mean(&self.repeat), mean(&self.frequent))
    }
}

/// Evaluates `policy` on the selected ports of `files` (the policy's
/// characters, or every human player for a generic policy), with the
/// policy's own delay and reset rule.
pub fn evaluate_files(
    policy: &RecurrentPolicy,
    files: &[PathBuf],
    competitive: bool,
) -> Result<Evaluation, PolicyError> {
    let config = policy.config();
    let selection = Selection {
        characters: config.characters.clone(),
        competitive,
        delay: config.delay,
        reset: config.reset,
    };
    let sequences = dataset::load(files, &selection);
    evaluate(policy, &sequences, 16)
}

/// Evaluates `policy` on `sequences` (built with its delay and reset rule),
/// stepping up to `lanes` of them at once.
pub fn evaluate(
    policy: &RecurrentPolicy,
    sequences: &[Sequence],
    lanes: usize,
) -> Result<Evaluation, PolicyError> {
    let mut tally = Tally::default();
    let mut queue = sequences.iter().filter(|s| !s.is_empty());
    let mut active: Vec<(&Sequence, usize, fourstock_policy::PolicyState)> = Vec::new();
    loop {
        while active.len() < lanes.max(1) {
            match queue.next() {
                Some(s) => active.push((s, 0, policy.initial_state(0))),
                None => break,
            }
        }
        if active.is_empty() {
            break;
        }
        for (s, i, state) in active.iter_mut() {
            if s.reset(*i) {
                *state = policy.initial_state(0);
            }
        }
        let mut requests: Vec<StepRequest<'_>> = active
            .iter_mut()
            .map(|(s, i, state)| StepRequest {
                frame: s.frame(*i),
                port: s.port,
                state,
            })
            .collect();
        let logits = policy.step_logits(&mut requests)?.to_vec2::<f32>()?;
        drop(requests);
        for ((s, i, _), row) in active.iter_mut().zip(&logits) {
            tally.add(row, &s.held(*i), &s.target(*i));
            *i += 1;
        }
        active.retain(|(s, i, _)| *i < s.len());
    }
    let mut files: Vec<&str> = sequences.iter().map(|s| s.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    Ok(Evaluation {
        model: policy.info().name.clone(),
        files: files.len(),
        sequences: sequences.iter().filter(|s| !s.is_empty()).count(),
        frames: tally.rows,
        policy: tally.policy(),
        repeat: tally.repeat(),
        frequent: tally.frequent(),
    })
}

const NB: usize = action::BUTTONS.len();

/// Running sums over scored rows.
#[derive(Default)]
struct Tally {
    rows: usize,
    /// Per head: policy correct, policy loss sum, target equal to the held input.
    correct: [f64; 6],
    loss: [f64; 6],
    repeats: [f64; 6],
    /// Per button: correct, loss, repeats, presses (the buttons head is their mean).
    button_repeats: [f64; NB],
    button_presses: [f64; NB],
    /// Class histograms of the 4 axes and the shoulder.
    classes: [[f64; action::STICK_CLASSES]; 5],
}

impl Tally {
    fn add(&mut self, logits: &[f32], held: &Target, target: &Target) {
        self.rows += 1;
        for (b, &x) in logits[..NB].iter().enumerate() {
            let x = x as f64;
            let y = target.buttons[b];
            self.correct[0] += ((x > 0.0) == y) as u8 as f64 / NB as f64;
            // Stable -ln sigmoid(+-x).
            let z = if y { x } else { -x };
            self.loss[0] += (z.max(0.0) - z + (1.0 + (-z.abs()).exp()).ln()) / NB as f64;
            let same = held.buttons[b] == y;
            self.repeats[0] += same as u8 as f64 / NB as f64;
            self.button_repeats[b] += same as u8 as f64;
            self.button_presses[b] += y as u8 as f64;
        }
        for axis in 0..5 {
            let (at, classes, want, had) = if axis < 4 {
                (
                    action::STICKS_AT + axis * action::STICK_CLASSES,
                    action::STICK_CLASSES,
                    target.sticks[axis] as usize,
                    held.sticks[axis] as usize,
                )
            } else {
                (
                    action::SHOULDER_AT,
                    action::SHOULDER_CLASSES,
                    target.shoulder as usize,
                    held.shoulder as usize,
                )
            };
            let row = &logits[at..at + classes];
            let (best, top) = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &l)| if l > b.1 { (i, l) } else { b },
                );
            let log_sum = row
                .iter()
                .map(|&l| ((l - top) as f64).exp())
                .sum::<f64>()
                .ln()
                + top as f64;
            self.correct[axis + 1] += (best == want) as u8 as f64;
            self.loss[axis + 1] += log_sum - row[want] as f64;
            self.repeats[axis + 1] += (had == want) as u8 as f64;
            self.classes[axis][want] += 1.0;
        }
    }

    fn n(&self) -> f64 {
        self.rows.max(1) as f64
    }

    fn policy(&self) -> Scores {
        std::array::from_fn(|h| HeadScore {
            accuracy: self.correct[h] / self.n(),
            loss: self.loss[h] / self.n(),
        })
    }

    fn repeat(&self) -> Scores {
        let n = self.n();
        std::array::from_fn(|h| {
            let loss = if h == 0 {
                self.button_repeats
                    .iter()
                    .map(|&r| binary_entropy(1.0 - r / n))
                    .sum::<f64>()
                    / NB as f64
            } else {
                let classes = if h == 5 {
                    action::SHOULDER_CLASSES
                } else {
                    action::STICK_CLASSES
                };
                let change = 1.0 - self.repeats[h] / n;
                // Keep the held class with the observed rate, spread the rest.
                -(xlogy(1.0 - change, 1.0 - change) + xlogy(change, change / (classes - 1) as f64))
            };
            HeadScore {
                accuracy: self.repeats[h] / n,
                loss: loss.max(0.0),
            }
        })
    }

    fn frequent(&self) -> Scores {
        let n = self.n();
        std::array::from_fn(|h| {
            if h == 0 {
                let (acc, loss) = self.button_presses.iter().fold((0.0, 0.0), |(a, l), &p| {
                    let p = p / n;
                    (a + p.max(1.0 - p), l + binary_entropy(p))
                });
                HeadScore {
                    accuracy: acc / NB as f64,
                    loss: loss / NB as f64,
                }
            } else {
                let counts = &self.classes[h - 1];
                let top = counts.iter().copied().fold(0.0, f64::max);
                HeadScore {
                    accuracy: top / n,
                    loss: (-counts.iter().map(|&c| xlogy(c / n, c / n)).sum::<f64>()).max(0.0),
                }
            }
        })
    }
}

/// `x ln y`, 0 when `x` is 0.
fn xlogy(x: f64, y: f64) -> f64 {
    if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

/// Entropy in nats of a Bernoulli(p).
fn binary_entropy(p: f64) -> f64 {
    (-(xlogy(p, p) + xlogy(1.0 - p, 1.0 - p))).max(0.0)
}

impl fmt::Display for Evaluation {
    /// A Markdown table: one row per head, accuracy and loss of the policy
    /// and of both baselines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} frames, {} sequences, {} files",
            self.model, self.frames, self.sequences, self.files
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| head     | policy acc | policy loss | repeat acc | repeat loss | frequent acc | frequent loss |"
        )?;
        writeln!(
            f,
            "|----------|-----------:|------------:|-----------:|------------:|-------------:|--------------:|"
        )?;
        for (h, name) in HEADS.iter().enumerate() {
            let (p, r, q) = (self.policy[h], self.repeat[h], self.frequent[h]);
            writeln!(
                f,
                "| {name:<8} | {:>10.4} | {:>11.4} | {:>10.4} | {:>11.4} | {:>12.4} | {:>13.4} |",
                p.accuracy, p.loss, r.accuracy, r.loss, q.accuracy, q.loss
            )?;
        }
        let (p, r, q) = self.mean_accuracy();
        writeln!(
            f,
            "| mean     | {p:>10.4} |             | {r:>10.4} |             | {q:>12.4} |               |"
        )
    }
}
