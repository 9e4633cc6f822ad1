//! One `fourstock train` run end to end: a replay folder split by file,
//! the chosen ports turned into sequences, a model trained and written to
//! its folder, and the held-out table printed.

use std::path::PathBuf;
use std::time::Instant;

use fourstock_proto::melee;
use fourstock_recurrent::{PolicyConfig, RecurrentPolicy};
use fourstock_replay::replay_files;
use tracing::info;

use crate::dataset::{self, Selection};
use crate::eval::{evaluate, Evaluation};
use crate::trainer::{train, TrainError, TrainOptions, TrainReport};

/// A character's external id from its name (any case; `falcon`,
/// `dk`, `gnw`, `ics`, `puff`, `doc`, `ganon` too) or from the number.
pub fn character_id(name: &str) -> Option<u8> {
    let name = name.trim();
    if let Ok(id) = name.parse::<u8>() {
        // The protocol's ids run to 32 (the last ones are not playable).
        return (id < melee::CHARACTERS).then_some(id);
    }
    melee::character_by_name(name)
}

/// A training run.
#[derive(Clone, Debug)]
pub struct TrainJob {
    pub replays: PathBuf,
    /// The model to train; its `characters` choose the ports (empty: every
    /// human player), its `delay` and `reset` shape the samples.
    pub config: PolicyConfig,
    pub options: TrainOptions,
    /// Keep only singles on a legal stage with items off.
    pub competitive: bool,
    /// Files held out for evaluation, by a hash of the file name.
    pub held_out_percent: u32,
}

/// What a run did.
pub struct JobReport {
    /// Training files that gave samples, with their sample counts.
    pub train_files: Vec<(String, usize)>,
    pub held_out_files: Vec<String>,
    pub train: TrainReport,
    pub held_out: Evaluation,
}

impl TrainJob {
    /// Loads, trains, writes the checkpoint (to `options.out`) and
    /// evaluates on the held-out files.
    pub fn run(mut self) -> Result<JobReport, TrainError> {
        let files = replay_files(&self.replays).map_err(|e| {
            TrainError::NoData(format!("cannot list {}: {e}", self.replays.display()))
        })?;
        let (train_files, held_files) = dataset::split(&files, self.held_out_percent);
        let selection = Selection {
            characters: self.config.characters.clone(),
            competitive: self.competitive,
            delay: self.config.delay,
            reset: self.config.reset,
        };
        let loading = Instant::now();
        let sequences = dataset::load(&train_files, &selection);
        let held_out = dataset::load(&held_files, &selection);
        let mut per_file: Vec<(String, usize)> = Vec::new();
        for s in &sequences {
            match per_file.last_mut() {
                Some((file, n)) if *file == s.file => *n += s.len(),
                _ => per_file.push((s.file.clone(), s.len())),
            }
        }
        let mut held_names: Vec<String> = held_out.iter().map(|s| s.file.clone()).collect();
        held_names.dedup();
        info!(
            "{} training sequences ({} frames) from {} files, {} held-out sequences ({} frames) from {} files, read in {:.1}s",
            sequences.len(),
            dataset::samples(&sequences),
            per_file.len(),
            held_out.len(),
            dataset::samples(&held_out),
            held_names.len(),
            loading.elapsed().as_secs_f64()
        );
        self.config.trained = true;
        let (model, report) = train(self.config, &sequences, &self.options)?;
        info!(
            "trained {} steps ({} frames, {} epochs begun) in {:.1}s: {:.0} frames/s",
            report.steps,
            report.frames,
            report.epochs,
            report.elapsed.as_secs_f64(),
            report.frames_per_second()
        );
        let policy: RecurrentPolicy = model.policy()?;
        let evaluation = evaluate(&policy, &held_out, 16).map_err(|e| match e {
            fourstock_policy::PolicyError::Tensor(t) => TrainError::Tensor(t),
            other => TrainError::NoData(other.to_string()),
        })?;
        Ok(JobReport {
            train_files: per_file,
            held_out_files: held_names,
            train: report,
            held_out: evaluation,
        })
    }
}
