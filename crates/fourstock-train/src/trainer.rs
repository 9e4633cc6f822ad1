//! The training loop: windows in, AdamW steps out, with the gradient's
//! global norm clipped, the recurrent state carried (detached) from window
//! to window, the learning rate on its schedule, progress logged and
//! checkpoints written as it goes. Given validation sequences, it scores
//! them every so often and, with early stopping, ends when their loss has
//! stopped falling and keeps the best weights.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use candle_core::backprop::GradStore;
use candle_core::Tensor;
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use fourstock_recurrent::CheckpointError;
use fourstock_recurrent::PolicyConfig;
use tracing::info;

use crate::loss::losses;
use crate::model::TrainModel;
use crate::sequence::Sequence;
use crate::window::Windows;

/// How to train.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Parallel streams of sequences (the batch).
    pub lanes: usize,
    /// Frames per window: the truncation of backpropagation through time.
    pub window: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    /// Largest global norm of the gradient; larger ones are scaled down.
    pub clip: f64,
    /// Seeds the initial weights and the order of sequences.
    pub seed: u64,
    /// Stop after this many optimizer steps...
    pub max_steps: usize,
    /// ...or after this long, whichever comes first.
    pub max_time: Option<Duration>,
    /// Write a checkpoint to `out` every this many steps (and at the end).
    pub checkpoint_every: usize,
    pub out: Option<PathBuf>,
    /// Log a progress line every this many steps.
    pub log_every: usize,
    /// Start from these weights (a checkpoint's, same shape) instead of a
    /// seeded initialisation: fine-tuning.
    pub init: Option<Vec<(String, Tensor)>>,
    /// How the learning rate moves over the run.
    pub schedule: Schedule,
    /// Score the validation sequences every this many steps (0: never).
    pub validate_every: usize,
    /// Stop after this many validations without a new best loss, and keep
    /// the best weights; `None` trains to the end and keeps the last.
    pub patience: Option<usize>,
}

/// The learning rate over a run, by step so that a seeded run is
/// reproducible whatever the machine's speed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// The same rate throughout.
    Constant,
    /// A linear warm-up from 0 over `warmup` steps, then a cosine decay to
    /// `floor` times the rate at `max_steps`.
    Cosine { warmup: usize, floor: f64 },
}

impl Schedule {
    /// The rate at `step` (0-based) of a run of `max_steps` at `base`.
    pub fn rate(&self, base: f64, step: usize, max_steps: usize) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Cosine { warmup, floor } => {
                if step < warmup {
                    return base * (step + 1) as f64 / warmup as f64;
                }
                let span = max_steps.saturating_sub(warmup).max(1) as f64;
                let done = ((step - warmup) as f64 / span).min(1.0);
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * done).cos());
                base * (floor + (1.0 - floor) * cosine)
            }
        }
    }
}

/// Where a run is, for a progress display.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub step: usize,
    pub max_steps: usize,
    pub elapsed: Duration,
    pub max_time: Option<Duration>,
    /// Mean training loss over the last logged steps.
    pub loss: f32,
    /// The newest validation loss, once there is one.
    pub validation_loss: Option<f32>,
    pub learning_rate: f64,
}

/// One point of the loss curves: the mean training loss of the steps
/// since the previous point, and the validation loss if it was scored.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CurvePoint {
    pub step: usize,
    pub train_loss: f32,
    pub validation_loss: Option<f32>,
    pub learning_rate: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            lanes: 32,
            window: 64,
            learning_rate: 1e-3,
            weight_decay: 1e-4,
            clip: 1.0,
            seed: 0,
            max_steps: 1000,
            max_time: None,
            checkpoint_every: 500,
            out: None,
            log_every: 50,
            init: None,
            schedule: Schedule::Constant,
            validate_every: 0,
            patience: None,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct TrainReport {
    pub steps: usize,
    /// Samples trained on (steps x lanes x window).
    pub frames: usize,
    pub elapsed: Duration,
    /// Passes over the sequences begun.
    pub epochs: usize,
    /// The total loss of every step, in order.
    pub losses: Vec<f32>,
    /// The loss curves, a point every `log_every` steps and at every
    /// validation.
    pub curve: Vec<CurvePoint>,
    /// The best validation loss and its step, when validation ran.
    pub best: Option<(usize, f32)>,
    /// Whether early stopping ended the run.
    pub stopped_early: bool,
}

impl TrainReport {
    pub fn frames_per_second(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The mean loss of the first and of the last `n` steps.
    pub fn first_and_last(&self, n: usize) -> (f32, f32) {
        let n = n.clamp(1, self.losses.len().max(1));
        (
            mean(&self.losses[..n.min(self.losses.len())]),
            mean(&self.losses[self.losses.len().saturating_sub(n)..]),
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("no training samples: {0}")]
    NoData(String),
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// Trains a fresh model of `config` on `sequences`.
pub fn train(
    config: PolicyConfig,
    sequences: &[Sequence],
    options: &TrainOptions,
) -> Result<(TrainModel, TrainReport), TrainError> {
    train_validated(config, sequences, &[], options, &mut |_| {})
}

/// The mean of `losses`; 0 for none.
fn mean(losses: &[f32]) -> f32 {
    losses.iter().sum::<f32>() / losses.len().max(1) as f32
}

/// Validation windows scored at most; about 200 k frames at 32 x 64.
const MAX_VALIDATION_WINDOWS: usize = 96;

/// Trains a fresh model of `config` on `sequences`, scoring `validation`
/// every `options.validate_every` steps, and telling `progress` after
/// every step.
pub fn train_validated(
    config: PolicyConfig,
    sequences: &[Sequence],
    validation: &[Sequence],
    options: &TrainOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(TrainModel, TrainReport), TrainError> {
    if sequences.iter().all(Sequence::is_empty) {
        return Err(TrainError::NoData(format!(
            "{} sequences, none with a sample",
            sequences.len()
        )));
    }
    let model = match &options.init {
        Some(tensors) => TrainModel::from_tensors(config, tensors)?,
        None => TrainModel::new(config, options.seed)?,
    };
    let vars = model.vars();
    let mut optimizer = AdamW::new(
        vars.clone(),
        ParamsAdamW {
            lr: options
                .schedule
                .rate(options.learning_rate, 0, options.max_steps),
            weight_decay: options.weight_decay,
            ..ParamsAdamW::default()
        },
    )?;
    let mut windows = Windows::new(
        sequences,
        model.featurizer().clone(),
        options.lanes,
        options.window,
        options.seed,
    );
    let held = validation_windows(&model, validation, options);
    let mut state = model.zero_state(options.lanes)?;
    let start = Instant::now();
    let mut report = TrainReport {
        steps: 0,
        frames: 0,
        elapsed: Duration::ZERO,
        epochs: 0,
        losses: Vec::with_capacity(options.max_steps),
        curve: Vec::new(),
        best: None,
        stopped_early: false,
    };
    let mut best_weights: Option<Vec<Tensor>> = None;
    let mut since_best = 0usize;
    let mut since_log = (Instant::now(), 0usize);
    let mut since_point = 0usize;
    let mut last_validation = None;
    while report.steps < options.max_steps
        && options.max_time.is_none_or(|limit| start.elapsed() < limit)
    {
        let rate = options
            .schedule
            .rate(options.learning_rate, report.steps, options.max_steps);
        optimizer.set_learning_rate(rate);
        let window = windows.next_window();
        let (logits, next) = model.unroll(&window, state)?;
        let l = losses(&logits, &window)?;
        let mut grads = l.total.backward()?;
        let norm = clip_global_norm(&mut grads, &vars, options.clip)?;
        optimizer.step(&grads)?;
        // Carry the state, cut from this window's graph.
        state = next.iter().map(Tensor::detach).collect();
        let total = l.total.to_scalar::<f32>()?;
        report.losses.push(total);
        report.steps += 1;
        report.frames += window.steps * window.lanes;
        let validate = !held.is_empty()
            && options.validate_every > 0
            && report.steps.is_multiple_of(options.validate_every);
        let log = options.log_every > 0 && report.steps.is_multiple_of(options.log_every);
        if log || validate {
            let validation_loss = if validate {
                Some(validation_loss(&model, &held)?)
            } else {
                None
            };
            report.curve.push(CurvePoint {
                step: report.steps,
                train_loss: mean(&report.losses[since_point..]),
                validation_loss,
                learning_rate: rate,
            });
            since_point = report.steps;
            if let Some(v) = validation_loss {
                last_validation = Some(v);
                if report.best.is_none_or(|(_, b)| v < b) {
                    report.best = Some((report.steps, v));
                    since_best = 0;
                    if options.patience.is_some() {
                        best_weights = Some(
                            vars.iter()
                                .map(|v| v.as_tensor().copy())
                                .collect::<candle_core::Result<_>>()?,
                        );
                    }
                } else {
                    since_best += 1;
                }
                info!(
                    step = report.steps,
                    "validation loss {v:.4} (best {:.4} at step {})",
                    report.best.map_or(v, |b| b.1),
                    report.best.map_or(0, |b| b.0)
                );
            }
        }
        if log {
            let frames = (report.steps - since_log.1) * window.steps * window.lanes;
            let fps = frames as f64 / since_log.0.elapsed().as_secs_f64().max(1e-9);
            let recent = mean(&report.losses[since_log.1..]);
            info!(
                step = report.steps,
                epoch = windows.epochs(),
                "loss {recent:.4} (buttons {:.4}, sticks {:.4}, shoulder {:.4}), grad norm {norm:.3}, lr {rate:.2e}, {fps:.0} frames/s",
                l.buttons.to_scalar::<f32>()?,
                l.sticks.to_scalar::<f32>()?,
                l.shoulder.to_scalar::<f32>()?,
            );
            since_log = (Instant::now(), report.steps);
        }
        let shown = report.losses.len().saturating_sub(options.log_every.max(1));
        progress(&Progress {
            step: report.steps,
            max_steps: options.max_steps,
            elapsed: start.elapsed(),
            max_time: options.max_time,
            loss: mean(&report.losses[shown..]),
            validation_loss: last_validation,
            learning_rate: rate,
        });
        if let Some(out) = &options.out {
            if options.checkpoint_every > 0 && report.steps.is_multiple_of(options.checkpoint_every)
            {
                model.save(out)?;
                info!(
                    step = report.steps,
                    "checkpoint written to {}",
                    out.display()
                );
            }
        }
        if options.patience.is_some_and(|p| validate && since_best > p) {
            report.stopped_early = true;
            info!(
                step = report.steps,
                "stopping early: no better validation loss for {since_best} validations"
            );
            break;
        }
    }
    if let Some(weights) = best_weights {
        for (var, best) in vars.iter().zip(weights) {
            var.set(&best)?;
        }
        if let Some((step, loss)) = report.best {
            info!("keeping the weights of step {step} (validation loss {loss:.4})");
        }
    }
    report.elapsed = start.elapsed();
    report.epochs = windows.epochs();
    if let Some(out) = &options.out {
        model.save(out)?;
    }
    Ok((model, report))
}

/// A fixed set of windows over `validation`: about one pass, at most
/// [`MAX_VALIDATION_WINDOWS`], always the same for a seed.
fn validation_windows(
    model: &TrainModel,
    validation: &[Sequence],
    options: &TrainOptions,
) -> Vec<crate::window::Window> {
    if validation.iter().all(Sequence::is_empty) || options.validate_every == 0 {
        return Vec::new();
    }
    let samples: usize = validation.iter().map(Sequence::len).sum();
    let count = samples
        .div_ceil(options.lanes * options.window)
        .clamp(1, MAX_VALIDATION_WINDOWS);
    let mut windows = Windows::new(
        validation,
        model.featurizer().clone(),
        options.lanes,
        options.window,
        options.seed ^ 0x5eed,
    );
    (0..count).map(|_| windows.next_window()).collect()
}

/// The mean total loss over `windows`, the state carried from one to the next.
fn validation_loss(
    model: &TrainModel,
    windows: &[crate::window::Window],
) -> Result<f32, TrainError> {
    let mut state = model.zero_state(windows[0].lanes)?;
    let mut sum = 0f32;
    for window in windows {
        let (logits, next) = model.unroll(window, state)?;
        sum += losses(&logits, window)?.total.to_scalar::<f32>()?;
        state = next.iter().map(Tensor::detach).collect();
    }
    Ok(sum / windows.len() as f32)
}

/// Scales every gradient by `min(1, clip / norm)`, `norm` being the global
/// L2 norm over all of them, which is returned.
pub fn clip_global_norm(
    grads: &mut GradStore,
    vars: &[candle_core::Var],
    clip: f64,
) -> candle_core::Result<f64> {
    let mut squares = 0f64;
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            squares += g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64;
        }
    }
    let norm = squares.sqrt();
    if clip > 0.0 && norm > clip {
        let scale = clip / norm;
        for var in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let scaled = g.affine(scale, 0.0)?;
                grads.insert(var.as_tensor(), scaled);
            }
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_warms_up_then_decays_to_its_floor() {
        let s = Schedule::Cosine {
            warmup: 10,
            floor: 0.1,
        };
        assert!((s.rate(1.0, 0, 110) - 0.1).abs() < 1e-12);
        assert!((s.rate(1.0, 9, 110) - 1.0).abs() < 1e-12);
        assert!((s.rate(1.0, 10, 110) - 1.0).abs() < 1e-12);
        assert!((s.rate(1.0, 60, 110) - 0.55).abs() < 1e-12);
        assert!((s.rate(1.0, 110, 110) - 0.1).abs() < 1e-12);
        assert!((s.rate(1.0, 500, 110) - 0.1).abs() < 1e-12);
        let mut last = f64::INFINITY;
        for step in 10..=110 {
            let r = s.rate(2e-3, step, 110);
            assert!(r <= last, "step {step}: {r} after {last}");
            last = r;
        }
        assert_eq!(Schedule::Constant.rate(3e-3, 77, 100), 3e-3);
    }
}
