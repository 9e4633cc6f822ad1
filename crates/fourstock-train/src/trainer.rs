//! The training loop: windows in, AdamW steps out, with the gradient's
//! global norm clipped, the recurrent state carried (detached) from window
//! to window, progress logged and checkpoints written as it goes.

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
}

impl TrainReport {
    pub fn frames_per_second(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The mean loss of the first and of the last `n` steps.
    pub fn first_and_last(&self, n: usize) -> (f32, f32) {
        let n = n.clamp(1, self.losses.len().max(1));
        let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len().max(1) as f32;
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
            lr: options.learning_rate,
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
    let mut state = model.zero_state(options.lanes)?;
    let start = Instant::now();
    let mut report = TrainReport {
        steps: 0,
        frames: 0,
        elapsed: Duration::ZERO,
        epochs: 0,
        losses: Vec::with_capacity(options.max_steps),
    };
    let mut since_log = (Instant::now(), 0usize);
    while report.steps < options.max_steps
        && options.max_time.is_none_or(|limit| start.elapsed() < limit)
    {
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
        if options.log_every > 0 && report.steps.is_multiple_of(options.log_every) {
            let frames = (report.steps - since_log.1) * window.steps * window.lanes;
            let fps = frames as f64 / since_log.0.elapsed().as_secs_f64().max(1e-9);
            let recent = &report.losses[since_log.1..];
            let mean = recent.iter().sum::<f32>() / recent.len() as f32;
            info!(
                step = report.steps,
                epoch = windows.epochs(),
                "loss {mean:.4} (buttons {:.4}, sticks {:.4}, shoulder {:.4}), grad norm {norm:.3}, {fps:.0} frames/s",
                l.buttons.to_scalar::<f32>()?,
                l.sticks.to_scalar::<f32>()?,
                l.shoulder.to_scalar::<f32>()?,
            );
            since_log = (Instant::now(), report.steps);
        }
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
    }
    report.elapsed = start.elapsed();
    report.epochs = windows.epochs();
    if let Some(out) = &options.out {
        model.save(out)?;
    }
    Ok((model, report))
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
