//! Calibration of a trained policy on the validation players, after
//! training and before the held-out evaluation.
//!
//! Two fits, both on frames training never stepped on (the validation
//! players, whom early stopping only watches), never on held-out data:
//! - a **temperature per output** (each button, each stick axis, the
//!   shoulder), which divides that output's logits and is folded into the
//!   head's weights: a model trained at a long delay ends
//!   overconfident (its training loss far under its validation loss), and
//!   a tempered head lowers the loss without changing any decision;
//! - a **decision bias** and a **persistence per output**, kept in the
//!   config's `calibrated` decoding: argmax rarely picks a rare input (a
//!   button press, a stick tilt), since it is seldom the likeliest, and
//!   humans hold their inputs for many frames, which a policy seeing the
//!   game `delay` frames late cannot tell from noise. Each button gets a
//!   bias; each stick axis and the shoulder one bias shared by every class
//!   but the neutral one (a per-class bias fitted the 5 validation players
//!   better and held-out players worse: 0.149 against 0.163 mean F1 for
//!   `generic-lstm-d18`). The persistence is added to the logit of whatever
//!   the controller already holds. All are chosen to maximise each head's
//!   macro F1 (per button, the F1 of "pressed"). They move decisions only;
//!   the probabilities, and so the loss, stay.
//!
//! Each fit is a handful of one-dimensional searches (golden section on a
//! convex loss, grids with coordinate ascent on F1), small enough to write
//! here rather than pull in an optimiser crate.

use fourstock_policy::PolicyError;
use fourstock_recurrent::head::Decision;
use fourstock_recurrent::{action, RecurrentPolicy};
use serde::Serialize;

use crate::eval::{each_row, f1};
use crate::sequence::Sequence;

const NB: usize = action::BUTTONS.len();
/// The heads: the buttons, the four stick axes and the shoulder.
const HEADS: usize = 1 + action::STICK_AXES + 1;
/// The outputs: each button, each stick axis and the shoulder.
pub const OUTPUTS: usize = action::OUTPUTS;
/// The search range of the inverse temperature: a temperature from 0.5 to
/// 2. Wider, a handful of validation players can push a rare output to an
/// extreme that held-out players pay for.
const INVERSE_TEMPERATURE: (f64, f64) = (0.5, 2.0);
/// A button pressed on fewer validation frames than this keeps its
/// temperature of 1: too few presses to say how confident it should be.
const MIN_PRESSES: usize = 500;
/// The bias grids: buttons from -6 to 6 in steps of 0.1, the other heads'
/// shared tilt from -8 to 8 in steps of 0.25 (from -4 to 4, the tilt of
/// `generic-lstm-d18`'s main y stopped at the edge); the persistence grid,
/// 0 to 8 in steps of 0.25.
const BUTTON_GRID: (f32, f32, usize) = (-6.0, 0.1, 121);
const CLASS_GRID: (f32, f32, usize) = (-8.0, 0.25, 65);
const KEEP_GRID: (f32, f32, usize) = (0.0, 0.25, 33);
/// Coordinate-ascent passes over an output's values.
const PASSES: usize = 3;

/// What calibration fitted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calibration {
    /// Per output (the 8 buttons in head order, main x, main y, c x, c y,
    /// the shoulder): its logits are divided by it.
    pub temperature: [f32; OUTPUTS],
    /// Added to the tempered logits before the decision (81 values: one
    /// per button, then per head the same tilt on every non-neutral class).
    pub bias: Vec<f32>,
    /// Per output: added to the logit of what the controller holds.
    pub persistence: [f32; OUTPUTS],
    /// Validation frames the fits saw.
    pub frames: usize,
}

impl Calibration {
    /// What each of the 81 logits is multiplied by: one over its output's
    /// temperature.
    pub fn logit_scale(&self) -> Vec<f32> {
        let mut scale = vec![1.0f32; action::SIZE];
        for (output, &t) in self.temperature.iter().enumerate() {
            let (from, count) = output_span(output);
            scale[from..from + count].fill(1.0 / t);
        }
        scale
    }
}

/// The validation frames' logits, the human's classes and the held
/// controllers' classes.
struct Rows {
    logits: Vec<f32>,
    targets: Vec<Decision>,
    held: Vec<Decision>,
}

impl Rows {
    fn len(&self) -> usize {
        self.targets.len()
    }

    fn row(&self, r: usize) -> &[f32] {
        &self.logits[r * action::SIZE..(r + 1) * action::SIZE]
    }
}

/// Fits a temperature per output and then the decision's bias and
/// persistence on `validation` (built with the policy's delay and reset
/// rule).
pub fn fit(
    policy: &RecurrentPolicy,
    validation: &[Sequence],
    lanes: usize,
) -> Result<Calibration, PolicyError> {
    let mut rows = Rows {
        logits: Vec::new(),
        targets: Vec::new(),
        held: Vec::new(),
    };
    each_row(policy, validation, lanes, |s, i, logits| {
        rows.logits.extend_from_slice(logits);
        rows.targets.push(s.target(i).decision());
        rows.held.push(s.held(i).decision());
    })?;
    Ok(fit_rows(rows))
}

fn fit_rows(mut rows: Rows) -> Calibration {
    let mut temperature = [1.0f32; OUTPUTS];
    let mut bias = vec![0.0f32; action::SIZE];
    let mut persistence = [0.0f32; OUTPUTS];
    if rows.len() == 0 {
        return Calibration {
            temperature,
            bias,
            persistence,
            frames: 0,
        };
    }
    for (output, t) in temperature.iter_mut().enumerate() {
        if output < NB && rows.targets.iter().filter(|t| t.pressed[output]).count() < MIN_PRESSES {
            continue;
        }
        let beta = golden_min(INVERSE_TEMPERATURE, |beta| nll(&rows, output, beta));
        *t = (1.0 / beta) as f32;
        // The biases are fitted on the tempered logits, as they are served.
        let (from, count) = output_span(output);
        for r in 0..rows.len() {
            let at = r * action::SIZE + from;
            for l in &mut rows.logits[at..at + count] {
                *l *= beta as f32;
            }
        }
    }
    for b in 0..NB {
        (bias[b], persistence[b]) = button_rule(&rows, b);
    }
    for head in 1..HEADS {
        let (from, count) = span(head);
        let (fitted, keep) = class_rule(&rows, head, from, count);
        bias[from..from + count].copy_from_slice(&fitted);
        persistence[NB + head - 1] = keep;
    }
    Calibration {
        temperature,
        bias,
        persistence,
        frames: rows.len(),
    }
}

/// Where an output's logits start, and how many there are.
pub fn output_span(output: usize) -> (usize, usize) {
    if output < NB {
        (output, 1)
    } else {
        span(output - NB + 1)
    }
}

/// Where a head's logits start, and how many there are (head 0 is the
/// buttons, then the categorical heads).
fn span(head: usize) -> (usize, usize) {
    match head {
        0 => (0, NB),
        h => action::class_span(h - 1),
    }
}

/// An output's mean negative log-likelihood with its logits times `beta`.
fn nll(rows: &Rows, output: usize, beta: f64) -> f64 {
    let (from, count) = output_span(output);
    let head = output.saturating_sub(NB - 1);
    let mut sum = 0.0;
    for (r, t) in rows.targets.iter().enumerate() {
        let l = &rows.row(r)[from..from + count];
        if output < NB {
            let x = l[0] as f64;
            let z = beta * if t.pressed[output] { x } else { -x };
            // -ln sigmoid(z), stable.
            sum += (-z).max(0.0) + (1.0 + (-z.abs()).exp()).ln();
        } else {
            let top = l.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let log_sum = l
                .iter()
                .map(|&x| (beta * (x as f64 - top)).exp())
                .sum::<f64>()
                .ln()
                + beta * top;
            sum += log_sum - beta * l[t.classes[head - 1]] as f64;
        }
    }
    sum / rows.len() as f64
}

/// The minimum of a unimodal `f` on `range`, by golden-section search.
fn golden_min(range: (f64, f64), f: impl Fn(f64) -> f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let (mut lo, mut hi) = range;
    let mut a = hi - ratio * (hi - lo);
    let mut b = lo + ratio * (hi - lo);
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..48 {
        if fa <= fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - ratio * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + ratio * (hi - lo);
            fb = f(b);
        }
    }
    (lo + hi) / 2.0
}

/// A grid's values, nearest zero first, so ties keep the smaller bias.
fn grid((lo, step, n): (f32, f32, usize)) -> Vec<f32> {
    let mut values: Vec<f32> = (0..n).map(|k| lo + step * k as f32).collect();
    values.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    values
}

/// The bias and persistence that maximise the F1 of "button `b`
/// pressed"; both 0 when the validation players never pressed it.
fn button_rule(rows: &Rows, b: usize) -> (f32, f32) {
    let actual = rows.targets.iter().filter(|t| t.pressed[b]).count() as f64;
    if actual == 0.0 {
        return (0.0, 0.0);
    }
    let score = |v: f32, keep: f32| {
        let (mut hit, mut predicted) = (0.0, 0.0);
        for (r, t) in rows.targets.iter().enumerate() {
            let held = if rows.held[r].pressed[b] { keep } else { 0.0 };
            if rows.row(r)[b] + v + held > 0.0 {
                predicted += 1.0;
                hit += t.pressed[b] as u8 as f64;
            }
        }
        f1(hit, predicted, actual).unwrap_or(0.0)
    };
    let (bias_grid, keep_grid) = (grid(BUTTON_GRID), grid(KEEP_GRID));
    let (mut v, mut keep) = (0.0, 0.0);
    for _ in 0..PASSES {
        v = best_on_grid(&bias_grid, v, |x| score(x, keep));
        keep = best_on_grid(&keep_grid, keep, |x| score(v, x));
    }
    (v, keep)
}

/// The value of `values` with the highest `score`: `start`'s score must be
/// beaten strictly, and earlier values win ties.
fn best_on_grid(values: &[f32], start: f32, score: impl Fn(f32) -> f64) -> f32 {
    let (mut best, mut best_score) = (start, score(start));
    for &v in values {
        let s = score(v);
        if s > best_score + 1e-12 {
            (best, best_score) = (v, s);
        }
    }
    best
}

/// Macro F1 over the classes that occur or are predicted.
fn macro_f1(hit: &[f64], predicted: &[f64], actual: &[f64]) -> f64 {
    let defined: Vec<f64> = (0..actual.len())
        .filter_map(|k| f1(hit[k], predicted[k], actual[k]))
        .collect();
    defined.iter().sum::<f64>() / defined.len().max(1) as f64
}

/// The biases and the persistence of a categorical head that maximise its
/// macro F1: one bias shared by every class but the neutral one (a stick
/// centred, the shoulder released), and the persistence.
fn class_rule(rows: &Rows, head: usize, from: usize, count: usize) -> (Vec<f32>, f32) {
    let neutral = if head <= action::STICK_AXES {
        action::STICK_CLASSES / 2
    } else {
        0
    };
    let mut actual = vec![0.0f64; count];
    for t in &rows.targets {
        actual[t.classes[head - 1]] += 1.0;
    }
    let held = |r: usize| rows.held[r].classes[head - 1];
    let score = |tilt: f32, keep: f32| {
        let mut predicted = vec![0.0f64; count];
        let mut hit = vec![0.0f64; count];
        for (r, t) in rows.targets.iter().enumerate() {
            let l = &rows.row(r)[from..from + count];
            let pick = (0..count)
                .fold((0, f32::NEG_INFINITY), |best, k| {
                    let v = l[k]
                        + if k == neutral { 0.0 } else { tilt }
                        + if held(r) == k { keep } else { 0.0 };
                    if v > best.1 {
                        (k, v)
                    } else {
                        best
                    }
                })
                .0;
            predicted[pick] += 1.0;
            hit[pick] += (pick == t.classes[head - 1]) as u8 as f64;
        }
        macro_f1(&hit, &predicted, &actual)
    };
    let (bias_grid, keep_grid) = (grid(CLASS_GRID), grid(KEEP_GRID));
    let (mut tilt, mut keep) = (0.0, 0.0);
    for _ in 0..PASSES {
        tilt = best_on_grid(&bias_grid, tilt, |x| score(x, keep));
        keep = best_on_grid(&keep_grid, keep, |x| score(tilt, x));
    }
    let mut bias = vec![tilt; count];
    bias[neutral] = 0.0;
    (bias, keep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;
    use fourstock_recurrent::head;
    use rand::{Rng, SeedableRng};

    fn neutral() -> Target {
        Target {
            buttons: [false; NB],
            sticks: [8; action::STICK_AXES],
            shoulder: 0,
        }
    }

    /// Rows whose logits are `scale` times the true log-odds: the true
    /// model, made over- (scale > 1) or under-confident.
    fn synthetic(scale: f32, n: usize, seed: u64) -> Rows {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut rows = Rows {
            logits: Vec::new(),
            targets: Vec::new(),
            held: Vec::new(),
        };
        for _ in 0..n {
            let mut t = neutral();
            let mut logits = vec![0.0f32; action::SIZE];
            // A: pressed with probability sigmoid(x), x drawn in -4..1.
            let x: f32 = rng.random_range(-4.0..1.0);
            t.buttons[0] = rng.random::<f32>() < 1.0 / (1.0 + (-x).exp());
            logits[0] = scale * x;
            logits[1..NB].fill(-8.0);
            // Main x: class 8 or 12, with log-odds y of 12 over 8.
            let y: f32 = rng.random_range(-3.0..1.0);
            let p12 = 1.0 / (1.0 + (-y).exp());
            t.sticks[0] = if rng.random::<f32>() < p12 { 12 } else { 8 };
            let (from, _) = span(1);
            for k in 0..action::STICK_CLASSES {
                logits[from + k] = scale * -8.0;
            }
            logits[from + 8] = 0.0;
            logits[from + 12] = scale * y;
            for head in 2..HEADS {
                let (from, count) = span(head);
                for k in 0..count {
                    logits[from + k] = if k == neutral().decision().classes[head - 1] {
                        8.0
                    } else {
                        -8.0
                    };
                }
            }
            rows.logits.extend_from_slice(&logits);
            rows.targets.push(t.decision());
            rows.held.push(neutral().decision());
        }
        rows
    }

    #[test]
    fn the_temperature_undoes_an_overconfident_scale() {
        // A and main x are the outputs drawn with noise.
        let fitted = fit_rows(synthetic(1.8, 20_000, 1));
        for output in [0, NB] {
            let t = fitted.temperature[output];
            assert!((t - 1.8).abs() < 0.15, "output {output}: temperature {t}");
        }
        // Past the range, the fit stops at its edge.
        let far = fit_rows(synthetic(4.0, 20_000, 1));
        assert!(
            (far.temperature[0] - 2.0).abs() < 1e-3,
            "{}",
            far.temperature[0]
        );
        // Buttons never pressed are left alone.
        assert!(far.temperature[1..NB].iter().all(|&t| t == 1.0));
        let honest = fit_rows(synthetic(1.0, 20_000, 2));
        for output in [0, NB] {
            let t = honest.temperature[output];
            assert!((t - 1.0).abs() < 0.1, "output {output}: temperature {t}");
        }
    }

    #[test]
    fn the_bias_raises_the_f1_of_a_rare_press_and_a_rare_tilt() {
        let rows = synthetic(1.0, 20_000, 3);
        let fitted = fit_rows(synthetic(1.0, 20_000, 3));
        let f1_of = |bias: Option<(&[f32], &[f32])>| {
            let (mut hit, mut predicted, mut actual) = ([0.0; 2], [0.0; 2], [0.0; 2]);
            for (r, t) in rows.targets.iter().enumerate() {
                let d = head::decide(rows.row(r), bias, &rows.held[r]);
                let said = [d.pressed[0], d.classes[0] == 12];
                let was = [t.pressed[0], t.classes[0] == 12];
                for k in 0..2 {
                    predicted[k] += said[k] as u8 as f64;
                    actual[k] += was[k] as u8 as f64;
                    hit[k] += (said[k] && was[k]) as u8 as f64;
                }
            }
            [0, 1].map(|k| f1(hit[k], predicted[k], actual[k]).unwrap())
        };
        let (before, after) = (
            f1_of(None),
            f1_of(Some((&fitted.bias, &fitted.persistence))),
        );
        for k in 0..2 {
            assert!(
                after[k] > before[k] + 0.05,
                "F1 {k}: {} before, {} after",
                before[k],
                after[k]
            );
        }
        // A press is made likelier, not rarer.
        assert!(fitted.bias[0] > 0.0, "{}", fitted.bias[0]);
        // Buttons never pressed keep a zero bias.
        assert!(fitted.bias[1..NB].iter().all(|&b| b == 0.0));
    }

    #[test]
    fn persistence_is_fitted_when_humans_hold_their_inputs() {
        // The logits know nothing (all flat); the human keeps main x where
        // the controller held it 90% of the time, which only persistence
        // can use.
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut rows = Rows {
            logits: Vec::new(),
            targets: Vec::new(),
            held: Vec::new(),
        };
        for _ in 0..5_000 {
            let mut held = neutral();
            held.sticks[0] = [8, 0, 16, 4][rng.random_range(0..4)];
            let mut t = neutral();
            t.sticks[0] = if rng.random::<f32>() < 0.9 {
                held.sticks[0]
            } else {
                rng.random_range(0..17)
            };
            rows.logits.extend_from_slice(&[0.0; action::SIZE]);
            rows.targets.push(t.decision());
            rows.held.push(held.decision());
        }
        let keep = class_rule(&rows, 1, span(1).0, action::STICK_CLASSES).1;
        assert!(keep > 0.0, "{keep}");
        let fitted = fit_rows(rows);
        assert!(fitted.persistence[NB] > 0.0);
    }

    #[test]
    fn a_fit_is_deterministic_and_no_frames_change_nothing() {
        assert_eq!(
            fit_rows(synthetic(2.0, 5_000, 4)),
            fit_rows(synthetic(2.0, 5_000, 4))
        );
        let empty = fit_rows(Rows {
            logits: Vec::new(),
            targets: Vec::new(),
            held: Vec::new(),
        });
        assert_eq!(empty.temperature, [1.0; OUTPUTS]);
        assert!(empty.bias.iter().all(|&b| b == 0.0));
    }
}
