//! One `fourstock train` run end to end: a replay folder split into
//! held-out files, held-out players, validation players and training
//! ports; the training ports (and, with mirroring, their mirror images)
//! turned into sequences; a model trained, early-stopped on the validation
//! players, calibrated on them if asked, and written to its folder; and the
//! held-out tables, by file and by player.

use std::path::{Path, PathBuf};
use std::time::Instant;

use fourstock_proto::melee;
use fourstock_recurrent::{PolicyConfig, RecurrentPolicy};
use fourstock_replay::replay_files;
use tracing::info;

use crate::calibrate::{self, Calibration};
use crate::dataset::{self, Selection};
use crate::eval::{evaluate, Evaluation, Extras};
use crate::margins;
use crate::model::TrainModel;
use crate::sequence::Sequence;
use crate::trainer::{train_validated, TrainError, TrainOptions, TrainReport};

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
    /// Players held out for evaluation, by a hash of who played: none of
    /// their ports is trained on, in any file.
    pub held_out_players_percent: u32,
    /// Players (of the rest) whose ports early stopping watches.
    pub validation_percent: u32,
    /// Add every training sequence's left/right mirror image.
    pub mirror: bool,
    /// After training, fit a temperature per output, a decision bias and a
    /// persistence on the validation players (see `calibrate`) and keep
    /// them.
    pub calibrate: bool,
}

/// What a run did.
pub struct JobReport {
    /// Training files that gave samples, with their sample counts
    /// (mirror images not counted).
    pub train_files: Vec<(String, usize)>,
    pub held_out_files: Vec<String>,
    /// The held-out players, and the validation players.
    pub held_out_players: Vec<String>,
    pub validation_players: Vec<String>,
    /// Frames in the validation sequences.
    pub validation_frames: usize,
    pub train: TrainReport,
    /// On the held-out files.
    pub held_out: Evaluation,
    /// On every port of the held-out players.
    pub held_out_by_player: Evaluation,
    /// What calibration fitted, when asked for.
    pub calibration: Option<CalibrationReport>,
}

/// A calibration and the validation players' figures around it.
pub struct CalibrationReport {
    pub fit: Calibration,
    /// The policy on the validation players, before and after.
    pub before: Extras,
    pub after: Extras,
}

impl TrainJob {
    /// Loads, trains, writes the checkpoint (to `options.out`) and
    /// evaluates on the held-out files.
    pub fn run(self) -> Result<JobReport, TrainError> {
        self.run_with(&mut |_| {})
    }

    /// As [`TrainJob::run`], telling `progress` after every step.
    pub fn run_with(
        mut self,
        progress: &mut dyn FnMut(&crate::trainer::Progress),
    ) -> Result<JobReport, TrainError> {
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
        let pool = dataset::load(&train_files, &selection);
        let held_out = dataset::load(&held_files, &selection);
        let player_out =
            |s: &Sequence| dataset::held_out_player(&s.player, self.held_out_players_percent);
        // Held-out players: every port of theirs, in any file.
        let by_player: Vec<Sequence> = pool
            .iter()
            .chain(&held_out)
            .filter(|s| player_out(s))
            .cloned()
            .collect();
        let (validation, mut sequences): (Vec<Sequence>, Vec<Sequence>) = pool
            .into_iter()
            .filter(|s| !player_out(s))
            .partition(|s| dataset::validation_player(&s.player, self.validation_percent));
        let mut per_file: Vec<(String, usize)> = Vec::new();
        for s in &sequences {
            match per_file.last_mut() {
                Some((file, n)) if *file == s.file => *n += s.len(),
                _ => per_file.push((s.file.clone(), s.len())),
            }
        }
        let names = |list: &[Sequence], by: fn(&Sequence) -> &String| {
            let mut names: Vec<String> = list.iter().map(|s| by(s).clone()).collect();
            names.sort();
            names.dedup();
            names
        };
        let held_names = names(&held_out, |s| &s.file);
        info!(
            "{} training sequences ({} frames) from {} files; {} validation sequences ({} frames); {} held-out sequences ({} frames) from {} files; {} sequences ({} frames) of held-out players; read in {:.1}s",
            sequences.len(),
            dataset::samples(&sequences),
            per_file.len(),
            validation.len(),
            dataset::samples(&validation),
            held_out.len(),
            dataset::samples(&held_out),
            held_names.len(),
            by_player.len(),
            dataset::samples(&by_player),
            loading.elapsed().as_secs_f64()
        );
        if self.mirror {
            let mirrored: Vec<Sequence> = sequences.iter().map(Sequence::mirrored).collect();
            sequences.extend(mirrored);
        }
        self.config.trained = true;
        let (mut model, report) = train_validated(
            self.config,
            &sequences,
            &validation,
            &self.options,
            progress,
        )?;
        info!(
            "trained {} steps ({} frames, {} epochs begun) in {:.1}s: {:.0} frames/s",
            report.steps,
            report.frames,
            report.epochs,
            report.elapsed.as_secs_f64(),
            report.frames_per_second()
        );
        let calibration = if self.calibrate {
            Some(calibrate_on(
                &mut model,
                &validation,
                self.options.out.as_deref(),
            )?)
        } else {
            None
        };
        let policy: RecurrentPolicy = model.policy()?;
        let score = |sequences: &[Sequence], split: String| {
            let mut evaluation = evaluate(&policy, sequences, 16).map_err(train_error)?;
            evaluation.split = split;
            evaluation.resample(margins::RESAMPLES, 0);
            Ok::<_, TrainError>(evaluation)
        };
        let held_out_eval = score(
            &held_out,
            format!("held-out files ({}%)", self.held_out_percent),
        )?;
        let by_player_eval = score(
            &by_player,
            format!("held-out players ({}%)", self.held_out_players_percent),
        )?;
        Ok(JobReport {
            train_files: per_file,
            held_out_files: held_names,
            held_out_players: names(&by_player, |s| &s.player),
            validation_players: names(&validation, |s| &s.player),
            validation_frames: dataset::samples(&validation),
            train: report,
            held_out: held_out_eval,
            held_out_by_player: by_player_eval,
            calibration,
        })
    }
}

/// Calibrates `model` on `validation` and writes it to `out` again.
fn calibrate_on(
    model: &mut TrainModel,
    validation: &[Sequence],
    out: Option<&Path>,
) -> Result<CalibrationReport, TrainError> {
    if dataset::samples(validation) == 0 {
        return Err(TrainError::NoData(
            "calibration needs validation players (--validation-percent above 0)".into(),
        ));
    }
    let trained = model.policy()?;
    let before = evaluate(&trained, validation, 16).map_err(train_error)?;
    let fit = calibrate::fit(&trained, validation, 16).map_err(train_error)?;
    model.calibrate(&fit)?;
    if let Some(out) = out {
        model.save(out)?;
    }
    let after = evaluate(&model.policy()?, validation, 16).map_err(train_error)?;
    info!(
        "calibrated on {} validation frames: loss {:.4} -> {:.4}, mean F1 {:.4} -> {:.4}",
        fit.frames,
        before.policy_extras.total_loss,
        after.policy_extras.total_loss,
        before.policy_extras.mean_f1,
        after.policy_extras.mean_f1
    );
    Ok(CalibrationReport {
        fit,
        before: before.policy_extras,
        after: after.policy_extras,
    })
}

fn train_error(e: fourstock_policy::PolicyError) -> TrainError {
    match e {
        fourstock_policy::PolicyError::Tensor(t) => TrainError::Tensor(t),
        other => TrainError::NoData(other.to_string()),
    }
}
