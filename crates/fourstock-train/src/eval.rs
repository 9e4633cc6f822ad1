//! Held-out evaluation: per-head accuracy, loss and F1 of a policy, stepped
//! exactly as the daemon steps it (the serving core, its resets), beside two
//! baselines: "repeat the previous input" and "most frequent class"; overall
//! and by character.
//!
//! F1 is what the field publishes (MIMIC's button and main-stick F1), so it
//! is computed the common way: per class, `2 tp / (predicted + actual)`; a
//! head's F1 is the macro mean over the classes that occur or are predicted
//! (for the buttons, each button's "pressed" class). "Main stick moved" is
//! the F1 of "not neutral" for the main stick as one (both axes centred or
//! not). "Airdodge" answers whether a policy can airdodge at all: on frames
//! where the human pressed L or R digitally while airborne, how often the
//! predictor pressed one of them too.
//!
//! The baselines are fitted on the very frames they are scored on, which
//! flatters them: "repeat" predicts the controller the policy last saw (on
//! frame t, for the target on frame t + delay) and, for its loss, gives
//! that class the probability that the evaluated data keeps it; "most
//! frequent" predicts each head's commonest class and, for its loss, the
//! evaluated data's own class frequencies (its entropy).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use fourstock_policy::{Policy, PolicyError, StepRequest};
use fourstock_proto::melee;
use fourstock_recurrent::{action, head, RecurrentPolicy};
use serde::Serialize;

use crate::dataset::{self, Selection};
use crate::margins::{self, Margins};
use crate::sequence::Sequence;
use crate::target::Target;

/// The heads scored, in table order.
pub const HEADS: [&str; 6] = ["buttons", "main x", "main y", "c x", "c y", "shoulder"];
/// The buttons' names, in head order.
pub const BUTTON_NAMES: [&str; NB] = ["A", "B", "X", "Y", "Z", "L", "R", "D-up"];

const NB: usize = action::BUTTONS.len();
const SC: usize = action::STICK_CLASSES;
/// The stick class of a centred axis.
const NEUTRAL: usize = SC / 2;
const L_AT: usize = 5;
const R_AT: usize = 6;

/// One class's F1, with how often it occurred.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClassF1 {
    /// A button's name, or a class number.
    pub class: String,
    /// `None` when the class neither occurs nor is predicted.
    pub f1: Option<f64>,
    /// Frames on which the human's input was this class.
    pub support: u64,
}

/// One predictor on one head: accuracy, mean loss (nats; for the buttons,
/// the mean over the 8 Bernoullis), macro F1 and the F1 of every class.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HeadScore {
    pub head: &'static str,
    pub accuracy: f64,
    pub loss: f64,
    pub f1: f64,
    pub classes: Vec<ClassF1>,
}

/// One predictor's score on every head, in [`HEADS`] order.
pub type Scores = Vec<HeadScore>;

/// The figures beside the heads, one per predictor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Extras {
    /// Mean accuracy over the six heads.
    pub mean_accuracy: f64,
    /// Mean of the six heads' macro F1.
    pub mean_f1: f64,
    /// Sum of the six heads' losses.
    pub total_loss: f64,
    /// F1 of "the main stick is not neutral".
    pub main_stick_moved_f1: f64,
    /// Share of the airdodge frames on which L or R was pressed; `None`
    /// when there are none.
    pub airdodge: Option<f64>,
}

/// A policy and both baselines on the same frames.
#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    pub frames: usize,
    pub sequences: usize,
    pub files: usize,
    /// Frames on which the human pressed L or R digitally while airborne.
    pub airdodge_frames: u64,
    pub policy: Scores,
    pub repeat: Scores,
    pub frequent: Scores,
    pub policy_extras: Extras,
    pub repeat_extras: Extras,
    pub frequent_extras: Extras,
}

/// A policy's evaluation: everything, and each character on its own.
#[derive(Clone, Debug, Serialize)]
pub struct Evaluation {
    pub model: String,
    /// How the frames were chosen, e.g. "held-out files (15%)"; empty
    /// when the caller chose them.
    pub split: String,
    #[serde(flatten)]
    pub all: Scored,
    /// Per character of the scored ports, by name.
    pub by_character: BTreeMap<String, Scored>,
    /// Each player's rows, for [`Evaluation::resample`].
    #[serde(skip)]
    players: Vec<Tally>,
    /// By how much the policy beats each baseline, with intervals from
    /// resampling players; filled by [`Evaluation::resample`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margins: Option<Margins>,
}

impl std::ops::Deref for Evaluation {
    type Target = Scored;
    fn deref(&self) -> &Scored {
        &self.all
    }
}

impl Scored {
    /// The mean accuracy over the heads, one number per predictor
    /// (policy, repeat, frequent).
    pub fn mean_accuracy(&self) -> (f64, f64, f64) {
        (
            self.policy_extras.mean_accuracy,
            self.repeat_extras.mean_accuracy,
            self.frequent_extras.mean_accuracy,
        )
    }

    /// The mean macro F1 over the heads, per predictor.
    pub fn mean_f1(&self) -> (f64, f64, f64) {
        (
            self.policy_extras.mean_f1,
            self.repeat_extras.mean_f1,
            self.frequent_extras.mean_f1,
        )
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
    let sequences = dataset::load(files, &selection_of(policy, competitive));
    evaluate(policy, &sequences, 16)
}

/// The ports a policy learns from and is scored on.
pub fn selection_of(policy: &RecurrentPolicy, competitive: bool) -> Selection {
    let config = policy.config();
    Selection {
        characters: config.characters.clone(),
        competitive,
        delay: config.delay,
        reset: config.reset,
    }
}

/// Evaluates `policy` on `sequences` (built with its delay and reset rule),
/// stepping up to `lanes` of them at once.
pub fn evaluate(
    policy: &RecurrentPolicy,
    sequences: &[Sequence],
    lanes: usize,
) -> Result<Evaluation, PolicyError> {
    // Each player's rows apart, for resampling players (see `margins`):
    // one tally per player of a sequence `each_row` steps.
    let mut players: BTreeMap<String, Tally> = sequences
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| (s.player.clone(), Tally::default()))
        .collect();
    let mut characters: BTreeMap<u8, Tally> = BTreeMap::new();
    let calibration = policy.config().decoding.calibration();
    each_row(policy, sequences, lanes, |s, i, row| {
        let (held, target) = (s.held(i), s.target(i));
        let airborne = !s.target_player(i).on_ground;
        players
            .get_mut(&s.player)
            .expect("a tally for every stepped sequence's player")
            .add(row, calibration, &held, &target, airborne);
        characters
            .entry(s.character)
            .or_default()
            .add(row, calibration, &held, &target, airborne);
    })?;
    let players: Vec<Tally> = players.into_values().collect();
    let mut all = Tally::default();
    players.iter().for_each(|p| all.merge(p));
    let scored = |tally: &Tally, of: &dyn Fn(&Sequence) -> bool| {
        let chosen: Vec<&Sequence> = sequences
            .iter()
            .filter(|s| !s.is_empty() && of(s))
            .collect();
        let mut files: Vec<&str> = chosen.iter().map(|s| s.file.as_str()).collect();
        files.sort_unstable();
        files.dedup();
        tally.scored(chosen.len(), files.len())
    };
    Ok(Evaluation {
        model: policy.info().name.clone(),
        split: String::new(),
        all: scored(&all, &|_| true),
        by_character: characters
            .iter()
            .map(|(&c, tally)| {
                let name = melee::character_name(c)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("character {c}"));
                (name, scored(tally, &|s: &Sequence| s.character == c))
            })
            .collect(),
        players,
        margins: None,
    })
}

/// Steps `policy` over every frame of `sequences` as the daemon would
/// (its resets, its state carried), up to `lanes` sequences at once, and
/// hands each frame's logits to `row` with its sequence and index.
pub fn each_row(
    policy: &RecurrentPolicy,
    sequences: &[Sequence],
    lanes: usize,
    mut row: impl FnMut(&Sequence, usize, &[f32]),
) -> Result<(), PolicyError> {
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
            return Ok(());
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
        for ((s, i, _), logits) in active.iter_mut().zip(&logits) {
            row(s, *i, logits);
            *i += 1;
        }
        active.retain(|(s, i, _)| *i < s.len());
    }
}

/// True and predicted counts of one class.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    /// Predicted and right.
    hit: f64,
    predicted: f64,
}

impl Counts {
    fn add(&mut self, predicted: bool, actual: bool) {
        self.predicted += predicted as u8 as f64;
        self.hit += (predicted && actual) as u8 as f64;
    }

    /// Adds `other`'s counts to these.
    fn merge(&mut self, other: &Counts) {
        self.hit += other.hit;
        self.predicted += other.predicted;
    }
}

/// F1 from hits, predictions and occurrences; `None` when both are zero.
pub(crate) fn f1(hit: f64, predicted: f64, actual: f64) -> Option<f64> {
    (predicted + actual > 0.0).then(|| 2.0 * hit / (predicted + actual))
}

/// Running sums over scored rows; every figure is a function of them, so
/// tallies of disjoint rows add up to the tally of all of them.
#[derive(Clone, Debug, Default)]
struct Tally {
    rows: usize,
    /// Per head: policy correct, policy loss sum, target equal to the held input.
    correct: [f64; 6],
    loss: [f64; 6],
    repeats: [f64; 6],
    /// Per button: repeats and presses (the buttons head is their mean).
    button_repeats: [f64; NB],
    button_presses: [f64; NB],
    /// Per button, "pressed" predictions of the policy and of repeat.
    button_policy: [Counts; NB],
    button_repeat: [Counts; NB],
    /// Class histograms of the 4 axes and the shoulder (the human's).
    classes: [[f64; SC]; 5],
    /// Per axis and class, predictions of the policy and of repeat.
    class_policy: [[Counts; SC]; 5],
    class_repeat: [[Counts; SC]; 5],
    /// Main stick as a whole: frames it was moved, and joint (x, y) counts.
    moved: f64,
    moved_policy: Counts,
    moved_repeat: Counts,
    /// Airdodge frames, and on how many each predictor pressed L or R.
    airdodge: f64,
    airdodge_policy: f64,
    airdodge_repeat: f64,
}

fn moved(x: usize, y: usize) -> bool {
    x != NEUTRAL || y != NEUTRAL
}

impl Tally {
    /// One frame: the policy's `logits` (its loss), its decision on them
    /// with its `calibration` (its accuracy and F1), the controller it
    /// last saw (`held`: what "repeat" predicts and what the calibration's
    /// persistence keeps) and the human's (`target`).
    fn add(
        &mut self,
        logits: &[f32],
        calibration: Option<(&[f32], &[f32])>,
        held: &Target,
        target: &Target,
        airborne: bool,
    ) {
        self.rows += 1;
        let (had, want) = (held.decision(), target.decision());
        let decision = head::decide(logits, calibration, &had);
        let pressed = decision.pressed;
        for (b, &x) in logits[..NB].iter().enumerate() {
            let x = x as f64;
            let y = target.buttons[b];
            self.correct[0] += (pressed[b] == y) as u8 as f64 / NB as f64;
            // Stable -ln sigmoid(+-x).
            let z = if y { x } else { -x };
            self.loss[0] += (z.max(0.0) - z + (1.0 + (-z.abs()).exp()).ln()) / NB as f64;
            let same = held.buttons[b] == y;
            self.repeats[0] += same as u8 as f64 / NB as f64;
            self.button_repeats[b] += same as u8 as f64;
            self.button_presses[b] += y as u8 as f64;
            self.button_policy[b].add(pressed[b], y);
            self.button_repeat[b].add(held.buttons[b], y);
        }
        let mut best = [0usize; 5];
        for (axis, chosen) in best.iter_mut().enumerate() {
            let (at, classes) = action::class_span(axis);
            let (want, had) = (want.classes[axis], had.classes[axis]);
            let row = &logits[at..at + classes];
            let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let pick = decision.classes[axis];
            *chosen = pick;
            let log_sum = row
                .iter()
                .map(|&l| ((l - top) as f64).exp())
                .sum::<f64>()
                .ln()
                + top as f64;
            self.correct[axis + 1] += (pick == want) as u8 as f64;
            self.loss[axis + 1] += log_sum - row[want] as f64;
            self.repeats[axis + 1] += (had == want) as u8 as f64;
            self.classes[axis][want] += 1.0;
            self.class_policy[axis][pick].add(true, pick == want);
            self.class_repeat[axis][had].add(true, had == want);
        }
        let was_moved = moved(target.sticks[0] as usize, target.sticks[1] as usize);
        self.moved += was_moved as u8 as f64;
        self.moved_policy.add(moved(best[0], best[1]), was_moved);
        self.moved_repeat.add(
            moved(held.sticks[0] as usize, held.sticks[1] as usize),
            was_moved,
        );
        if airborne && (target.buttons[L_AT] || target.buttons[R_AT]) {
            self.airdodge += 1.0;
            self.airdodge_policy += (pressed[L_AT] || pressed[R_AT]) as u8 as f64;
            self.airdodge_repeat += (held.buttons[L_AT] || held.buttons[R_AT]) as u8 as f64;
        }
    }

    fn n(&self) -> f64 {
        self.rows.max(1) as f64
    }

    /// Adds `other`'s rows to these.
    fn merge(&mut self, other: &Tally) {
        fn sum<const N: usize>(a: &mut [f64; N], b: &[f64; N]) {
            a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
        }
        fn counts(a: &mut [Counts], b: &[Counts]) {
            a.iter_mut().zip(b).for_each(|(a, b)| a.merge(b));
        }
        self.rows += other.rows;
        sum(&mut self.correct, &other.correct);
        sum(&mut self.loss, &other.loss);
        sum(&mut self.repeats, &other.repeats);
        sum(&mut self.button_repeats, &other.button_repeats);
        sum(&mut self.button_presses, &other.button_presses);
        counts(&mut self.button_policy, &other.button_policy);
        counts(&mut self.button_repeat, &other.button_repeat);
        for h in 0..5 {
            sum(&mut self.classes[h], &other.classes[h]);
            counts(&mut self.class_policy[h], &other.class_policy[h]);
            counts(&mut self.class_repeat[h], &other.class_repeat[h]);
        }
        self.moved += other.moved;
        self.moved_policy.merge(&other.moved_policy);
        self.moved_repeat.merge(&other.moved_repeat);
        self.airdodge += other.airdodge;
        self.airdodge_policy += other.airdodge_policy;
        self.airdodge_repeat += other.airdodge_repeat;
    }

    fn scored(&self, sequences: usize, files: usize) -> Scored {
        let (policy, repeat, frequent) = (self.policy(), self.repeat(), self.frequent());
        let rate = |hits: f64| (self.airdodge > 0.0).then(|| hits / self.airdodge);
        let moved_f1 = |c: &Counts| f1(c.hit, c.predicted, self.moved).unwrap_or(0.0);
        // "Most frequent" moves the main stick on every frame or on none.
        let frequent_moved = {
            let (x, _) = top_class(&self.classes[0]);
            let (y, _) = top_class(&self.classes[1]);
            if moved(x, y) {
                Counts {
                    hit: self.moved,
                    predicted: self.rows as f64,
                }
            } else {
                Counts::default()
            }
        };
        let frequent_airdodge = {
            let n = self.n();
            let presses = self.button_presses[L_AT].max(self.button_presses[R_AT]);
            if presses > n / 2.0 {
                self.airdodge
            } else {
                0.0
            }
        };
        Scored {
            frames: self.rows,
            sequences,
            files,
            airdodge_frames: self.airdodge as u64,
            policy_extras: extras(
                &policy,
                moved_f1(&self.moved_policy),
                rate(self.airdodge_policy),
            ),
            repeat_extras: extras(
                &repeat,
                moved_f1(&self.moved_repeat),
                rate(self.airdodge_repeat),
            ),
            frequent_extras: extras(
                &frequent,
                moved_f1(&frequent_moved),
                rate(frequent_airdodge),
            ),
            policy,
            repeat,
            frequent,
        }
    }

    /// Per-class F1 of a head from prediction counts.
    fn class_f1(&self, head: usize, counts: &[Counts]) -> Vec<ClassF1> {
        if head == 0 {
            BUTTON_NAMES
                .iter()
                .enumerate()
                .map(|(b, name)| ClassF1 {
                    class: name.to_string(),
                    f1: f1(counts[b].hit, counts[b].predicted, self.button_presses[b]),
                    support: self.button_presses[b] as u64,
                })
                .collect()
        } else {
            let actual = &self.classes[head - 1];
            (0..classes_of(head))
                .map(|c| ClassF1 {
                    class: c.to_string(),
                    f1: f1(counts[c].hit, counts[c].predicted, actual[c]),
                    support: actual[c] as u64,
                })
                .collect()
        }
    }

    fn policy(&self) -> Scores {
        (0..6)
            .map(|h| {
                let counts: &[Counts] = if h == 0 {
                    &self.button_policy
                } else {
                    &self.class_policy[h - 1]
                };
                head_score(
                    h,
                    self.correct[h] / self.n(),
                    self.loss[h] / self.n(),
                    self.class_f1(h, counts),
                )
            })
            .collect()
    }

    fn repeat(&self) -> Scores {
        let n = self.n();
        (0..6)
            .map(|h| {
                let (loss, counts): (f64, &[Counts]) = if h == 0 {
                    let loss = self
                        .button_repeats
                        .iter()
                        .map(|&r| binary_entropy(1.0 - r / n))
                        .sum::<f64>()
                        / NB as f64;
                    (loss, &self.button_repeat)
                } else {
                    let change = 1.0 - self.repeats[h] / n;
                    // Keep the held class with the observed rate, spread the rest.
                    let loss = -(xlogy(1.0 - change, 1.0 - change)
                        + xlogy(change, change / (classes_of(h) - 1) as f64));
                    (loss, &self.class_repeat[h - 1])
                };
                head_score(
                    h,
                    self.repeats[h] / n,
                    loss.max(0.0),
                    self.class_f1(h, counts),
                )
            })
            .collect()
    }

    fn frequent(&self) -> Scores {
        let n = self.n();
        (0..6)
            .map(|h| {
                if h == 0 {
                    let (acc, loss) = self.button_presses.iter().fold((0.0, 0.0), |(a, l), &p| {
                        let p = p / n;
                        (a + p.max(1.0 - p), l + binary_entropy(p))
                    });
                    // A button counts as pressed on every frame when most frames press it.
                    let counts: Vec<Counts> = self
                        .button_presses
                        .iter()
                        .map(|&p| {
                            if p > n / 2.0 {
                                Counts {
                                    hit: p,
                                    predicted: self.rows as f64,
                                }
                            } else {
                                Counts::default()
                            }
                        })
                        .collect();
                    head_score(
                        h,
                        acc / NB as f64,
                        loss / NB as f64,
                        self.class_f1(h, &counts),
                    )
                } else {
                    let actual = &self.classes[h - 1];
                    let (top, count) = top_class(&actual[..classes_of(h)]);
                    let mut counts = [Counts::default(); SC];
                    counts[top] = Counts {
                        hit: count,
                        predicted: self.rows as f64,
                    };
                    head_score(
                        h,
                        count / n,
                        (-actual.iter().map(|&c| xlogy(c / n, c / n)).sum::<f64>()).max(0.0),
                        self.class_f1(h, &counts),
                    )
                }
            })
            .collect()
    }
}

/// One player's tally is what `margins` resamples.
impl margins::Unit for Tally {
    fn merge(&mut self, other: &Tally) {
        Tally::merge(self, other)
    }

    /// Per head, then the mean F1 and the summed loss.
    fn margins(&self) -> Vec<[f64; 4]> {
        let (p, r, q) = (self.policy(), self.repeat(), self.frequent());
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
        let (p, r, q) = (
            extras(&p, 0.0, None),
            extras(&r, 0.0, None),
            extras(&q, 0.0, None),
        );
        rows.push([
            p.mean_f1 - r.mean_f1,
            p.mean_f1 - q.mean_f1,
            r.total_loss - p.total_loss,
            q.total_loss - p.total_loss,
        ]);
        rows
    }
}

impl Evaluation {
    /// Fills [`Evaluation::margins`] from `resamples` seeded draws of the
    /// scored players (none when 0).
    pub fn resample(&mut self, resamples: usize, seed: u64) {
        let rows: Vec<&'static str> = HEADS.iter().copied().chain(["mean"]).collect();
        self.margins = margins::resample(&self.players, &rows, resamples, seed);
    }
}

fn classes_of(head: usize) -> usize {
    if head == 5 {
        action::SHOULDER_CLASSES
    } else {
        SC
    }
}

/// The commonest class and its count (the lowest class on ties).
fn top_class(counts: &[f64]) -> (usize, f64) {
    counts
        .iter()
        .copied()
        .enumerate()
        .fold((0, -1.0), |b, (i, c)| if c > b.1 { (i, c) } else { b })
}

fn head_score(head: usize, accuracy: f64, loss: f64, classes: Vec<ClassF1>) -> HeadScore {
    let defined: Vec<f64> = classes.iter().filter_map(|c| c.f1).collect();
    HeadScore {
        head: HEADS[head],
        accuracy,
        loss,
        // Folded from +0.0: an empty f64 sum is -0.0.
        f1: defined.iter().fold(0.0, |a, b| a + b) / defined.len().max(1) as f64,
        classes,
    }
}

fn extras(scores: &Scores, main_stick_moved_f1: f64, airdodge: Option<f64>) -> Extras {
    let n = scores.len().max(1) as f64;
    Extras {
        mean_accuracy: scores.iter().map(|h| h.accuracy).sum::<f64>() / n,
        mean_f1: scores.iter().map(|h| h.f1).sum::<f64>() / n,
        total_loss: scores.iter().map(|h| h.loss).sum(),
        main_stick_moved_f1,
        airdodge,
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

fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:.1}%", 100.0 * r))
        .unwrap_or_else(|| "-".into())
}

impl fmt::Display for Scored {
    /// A Markdown table: one row per head, accuracy, loss and macro F1 of
    /// the policy and of both baselines; then the per-button F1, the main
    /// stick and the airdodge lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.frames == 0 {
            return writeln!(f, "No frame to score.");
        }
        writeln!(
            f,
            "| head     | policy acc | loss   | F1     | repeat acc | loss   | F1     | frequent acc | loss   | F1     |"
        )?;
        writeln!(
            f,
            "|----------|-----------:|-------:|-------:|-----------:|-------:|-------:|-------------:|-------:|-------:|"
        )?;
        for (h, name) in HEADS.iter().enumerate() {
            let (p, r, q) = (&self.policy[h], &self.repeat[h], &self.frequent[h]);
            writeln!(
                f,
                "| {name:<8} | {:>10.4} | {:>6.4} | {:>6.4} | {:>10.4} | {:>6.4} | {:>6.4} | {:>12.4} | {:>6.4} | {:>6.4} |",
                p.accuracy, p.loss, p.f1, r.accuracy, r.loss, r.f1, q.accuracy, q.loss, q.f1
            )?;
        }
        let (p, r, q) = (
            &self.policy_extras,
            &self.repeat_extras,
            &self.frequent_extras,
        );
        writeln!(
            f,
            "| mean     | {:>10.4} | {:>6.4} | {:>6.4} | {:>10.4} | {:>6.4} | {:>6.4} | {:>12.4} | {:>6.4} | {:>6.4} |",
            p.mean_accuracy, p.total_loss, p.mean_f1, r.mean_accuracy, r.total_loss, r.mean_f1,
            q.mean_accuracy, q.total_loss, q.mean_f1
        )?;
        writeln!(f)?;
        writeln!(f, "(the mean row's loss is the sum over the six heads)")?;
        let buttons = |s: &Scores| {
            s[0].classes
                .iter()
                .map(|c| match c.f1 {
                    Some(v) => format!("{} {v:.3}", c.class),
                    None => format!("{} -", c.class),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(f, "button F1, policy:   {}", buttons(&self.policy))?;
        writeln!(f, "button F1, repeat:   {}", buttons(&self.repeat))?;
        writeln!(f, "button F1, frequent: {}", buttons(&self.frequent))?;
        writeln!(
            f,
            "main stick moved (not neutral) F1: policy {:.4}, repeat {:.4}, frequent {:.4}",
            p.main_stick_moved_f1, r.main_stick_moved_f1, q.main_stick_moved_f1
        )?;
        writeln!(
            f,
            "airdodge: on {} frames with L or R pressed in the air, pressed by policy {}, repeat {}, frequent {}",
            self.airdodge_frames,
            percent(p.airdodge),
            percent(r.airdodge),
            percent(q.airdodge)
        )
    }
}

impl Evaluation {
    /// The by-character table: frames, mean accuracy, mean F1 and summed
    /// loss of each predictor.
    pub fn character_table(&self) -> String {
        let mut out = String::new();
        out.push_str("| character | frames | policy acc | F1 | loss | repeat acc | F1 | loss | frequent acc | F1 | loss |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (name, s) in &self.by_character {
            let (p, r, q) = (&s.policy_extras, &s.repeat_extras, &s.frequent_extras);
            out.push_str(&format!(
                "| {name} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
                s.frames,
                p.mean_accuracy,
                p.mean_f1,
                p.total_loss,
                r.mean_accuracy,
                r.mean_f1,
                r.total_loss,
                q.mean_accuracy,
                q.mean_f1,
                q.total_loss
            ));
        }
        out
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} frames, {} sequences, {} files",
            self.model, self.all.frames, self.all.sequences, self.all.files
        )?;
        if !self.split.is_empty() {
            write!(f, "; {}", self.split)?;
        }
        writeln!(f)?;
        writeln!(f)?;
        write!(f, "{}", self.all)?;
        if let Some(margins) = &self.margins {
            writeln!(f)?;
            write!(f, "{margins}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(buttons: [bool; NB], x: u8, y: u8) -> Target {
        Target {
            buttons,
            sticks: [x, y, 8, 8],
            shoulder: 0,
        }
    }

    /// Logits that predict `t` exactly.
    fn logits_for(t: &Target) -> Vec<f32> {
        let mut row = vec![-5.0f32; action::SIZE];
        for (slot, &pressed) in row.iter_mut().zip(&t.buttons) {
            *slot = if pressed { 5.0 } else { -5.0 };
        }
        for axis in 0..4 {
            row[action::STICKS_AT + axis * SC + t.sticks[axis] as usize] = 5.0;
        }
        row[action::SHOULDER_AT + t.shoulder as usize] = 5.0;
        row
    }

    #[test]
    fn f1_counts_hits_misses_and_false_alarms() {
        let mut tally = Tally::default();
        let mut a = [false; NB];
        a[0] = true;
        let none = [false; NB];
        // A pressed 4 times: the policy presses it on 3 of them and once
        // when it was not pressed. F1 = 2*3 / (4 + 4) = 0.75.
        for i in 0..4 {
            let want = target(a, 8, 8);
            let said = if i < 3 { want } else { target(none, 8, 8) };
            tally.add(&logits_for(&said), None, &said, &want, false);
        }
        tally.add(
            &logits_for(&target(a, 8, 8)),
            None,
            &target(none, 8, 8),
            &target(none, 8, 8),
            false,
        );
        let scored = tally.scored(1, 1);
        let a_f1 = scored.policy[0].classes[0].f1.unwrap();
        assert!((a_f1 - 0.75).abs() < 1e-12, "{a_f1}");
        // B is never pressed nor predicted: no F1, and out of the mean.
        assert_eq!(scored.policy[0].classes[1].f1, None);
        assert!((scored.policy[0].f1 - 0.75).abs() < 1e-12);
        // Most frequent presses A on every frame: 4 of the 5 press it.
        assert!((scored.frequent[0].classes[0].f1.unwrap() - 2.0 * 4.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn a_decision_bias_moves_accuracy_and_f1_but_not_the_loss() {
        let mut a = [false; NB];
        a[0] = true;
        let want = target(a, 8, 8);
        // The logits lean against A (-1) while the human pressed it.
        let mut row = logits_for(&target([false; NB], 8, 8));
        row[0] = -1.0;
        let mut plain = Tally::default();
        plain.add(&row, None, &want, &want, false);
        let mut bias = vec![0.0; action::SIZE];
        bias[0] = 2.0;
        let mut biased = Tally::default();
        biased.add(&row, Some((&bias, &[])), &want, &want, false);
        let (plain, biased) = (plain.scored(1, 1), biased.scored(1, 1));
        assert_eq!(plain.policy[0].classes[0].f1, Some(0.0));
        assert_eq!(biased.policy[0].classes[0].f1, Some(1.0));
        assert!(biased.policy[0].accuracy > plain.policy[0].accuracy);
        assert_eq!(plain.policy[0].loss, biased.policy[0].loss);
    }

    #[test]
    fn a_perfect_policy_scores_one_and_frequent_scores_its_share() {
        let mut tally = Tally::default();
        let none = [false; NB];
        let mut l = none;
        l[L_AT] = true;
        let rows = [
            (target(none, 8, 8), false),
            (target(none, 16, 8), true),
            (target(l, 16, 8), true),
            (target(none, 0, 8), false),
        ];
        let mut held = target(none, 8, 8);
        for (t, airborne) in rows {
            tally.add(&logits_for(&t), None, &held, &t, airborne);
            held = t;
        }
        let s = tally.scored(1, 1);
        for head in &s.policy {
            assert_eq!(head.accuracy, 1.0, "{}", head.head);
            assert!((head.f1 - 1.0).abs() < 1e-12, "{}", head.head);
        }
        assert_eq!(s.policy_extras.main_stick_moved_f1, 1.0);
        assert_eq!(s.airdodge_frames, 1);
        assert_eq!(s.policy_extras.airdodge, Some(1.0));
        // Repeat held no L on the one airdodge frame.
        assert_eq!(s.repeat_extras.airdodge, Some(0.0));
        // Main x: 16 is commonest (2 of 4); frequent's F1 on it is
        // 2*2/(4+2), on the other classes 0: macro over 3 classes.
        let want = (2.0 * 2.0 / 6.0) / 3.0;
        assert!(
            (s.frequent[1].f1 - want).abs() < 1e-12,
            "{}",
            s.frequent[1].f1
        );
        // Frequent moves the stick everywhere: 3 moved of 4.
        assert!((s.frequent_extras.main_stick_moved_f1 - 2.0 * 3.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn nothing_to_score_says_so() {
        let s = Tally::default().scored(0, 0);
        assert!(s.policy[0].f1.is_sign_positive());
        assert_eq!(s.to_string(), "No frame to score.\n");
    }

    #[test]
    fn tallies_of_two_players_merge_into_the_tally_of_all_their_rows() {
        // L pressed on every other frame, a quarter of them airborne.
        let mut a = [false; NB];
        a[L_AT] = true;
        let rows: Vec<(Target, Target)> = (0..80)
            .map(|i| {
                let x = [8, 3, 16][i % 3];
                let want = target(if i % 2 == 0 { a } else { [false; NB] }, x, 8);
                let held = target([false; NB], [8, 16, 3][i % 3], 8);
                (held, want)
            })
            .collect();
        let (mut first, mut second, mut together) =
            (Tally::default(), Tally::default(), Tally::default());
        for (i, (held, want)) in rows.iter().enumerate() {
            let said = if i % 5 == 0 { held } else { want };
            let part = if i < 30 { &mut first } else { &mut second };
            for tally in [part, &mut together] {
                tally.add(&logits_for(said), None, held, want, i % 4 == 0);
            }
        }
        first.merge(&second);
        let (m, t) = (first.scored(2, 2), together.scored(2, 2));
        assert_eq!(m.frames, 80);
        for (a, b) in [
            (&m.policy, &t.policy),
            (&m.repeat, &t.repeat),
            (&m.frequent, &t.frequent),
        ] {
            for (x, y) in a.iter().zip(b) {
                assert_eq!((x.accuracy, x.f1), (y.accuracy, y.f1), "{}", x.head);
                assert_eq!(x.classes, y.classes, "{}", x.head);
                assert!((x.loss - y.loss).abs() < 1e-12, "{}", x.head);
            }
        }
        for (x, y) in [
            (m.policy_extras, t.policy_extras),
            (m.repeat_extras, t.repeat_extras),
            (m.frequent_extras, t.frequent_extras),
        ] {
            assert_eq!((x.mean_accuracy, x.mean_f1), (y.mean_accuracy, y.mean_f1));
            assert_eq!(
                (x.main_stick_moved_f1, x.airdodge),
                (y.main_stick_moved_f1, y.airdodge)
            );
            assert!((x.total_loss - y.total_loss).abs() < 1e-12);
        }
        assert!(
            m.policy_extras.airdodge.is_some(),
            "airdodge frames counted"
        );
    }
}
