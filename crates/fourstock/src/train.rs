//! `fourstock train`: imitation learning from a folder of Slippi replays.
//! Trains a policy for one character (or every human player) and writes
//! it to models/NAME, where `fourstock serve` finds it, with its loss
//! curves (`curves.csv`, `curves.png`); shows a progress bar with the loss
//! and the time left; then prints the held-out evaluations, by file and by
//! player. The work is fourstock-train's [`TrainJob`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::{Args, ValueEnum};
use fourstock_recurrent::{CellKind, PolicyConfig, RecurrentPolicy};
use fourstock_train::{character_id, Progress, Schedule, TrainJob, TrainOptions};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Folder of .slp replays.
    #[arg(long, env = "FOURSTOCK_REPLAYS", default_value = "../shared/replays")]
    replays: PathBuf,
    /// The model's name: it is written to MODELS/NAME.
    #[arg(long)]
    name: String,
    /// Folder that holds the models.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Characters to learn (names or external ids, comma-separated); none
    /// trains a generic model on every human player.
    #[arg(long, value_delimiter = ',')]
    character: Vec<String>,
    /// Learn from every game, not only singles on a legal stage with items off.
    #[arg(long)]
    any_ruleset: bool,
    /// Percent of replay files held out for evaluation (chosen by a hash of the file name).
    #[arg(long, default_value_t = 15)]
    held_out_percent: u32,
    /// Percent of players held out for evaluation (chosen by a hash of the
    /// connect code): none of their ports is trained on, in any file.
    #[arg(long, default_value_t = 15)]
    held_out_players_percent: u32,
    /// Percent of the other players whose ports are the validation set.
    #[arg(long, default_value_t = 10)]
    validation_percent: u32,
    /// Score the validation set every this many steps (0: never).
    #[arg(long, default_value_t = 250)]
    validate_every: usize,
    /// Stop after this many validations without a better loss, keeping the
    /// best weights; without it, train to the end and keep the last.
    #[arg(long)]
    patience: Option<usize>,
    /// Add every training game's left/right mirror image.
    #[arg(long)]
    mirror: bool,
    /// After training, fit a temperature per output (folded into the
    /// head) and a decision bias and persistence (the `calibrated`
    /// decoding) on the validation players: a lower loss for an
    /// overconfident model, and rare inputs chosen, and held inputs kept,
    /// as often as F1 rewards.
    #[arg(long)]
    calibrate: bool,
    /// The learning rate over the run: constant, or a linear warm-up then a
    /// cosine decay to `--lr-floor` times the rate at `--steps`.
    #[arg(long, value_enum, default_value = "constant")]
    schedule: ScheduleArg,
    /// Warm-up steps of the cosine schedule.
    #[arg(long, default_value_t = 200)]
    warmup_steps: usize,
    /// Where the cosine schedule ends, as a fraction of `--lr`.
    #[arg(long, default_value_t = 0.05)]
    lr_floor: f64,
    #[arg(long, default_value = "lstm")]
    cell: CellKind,
    /// Hidden size of each layer, bottom first.
    #[arg(long, value_delimiter = ',', default_value = "128,128")]
    hidden: Vec<usize>,
    /// Reaction delay in frames: the state on frame t learns the input held on frame t + delay.
    #[arg(long, default_value_t = 6)]
    delay: u32,
    /// Read the five speeds of every player.
    #[arg(long)]
    speeds: bool,
    /// Parallel sequences per step (the batch).
    #[arg(long, default_value_t = 32)]
    lanes: usize,
    /// Frames per window of truncated backpropagation through time.
    #[arg(long, default_value_t = 64)]
    window: usize,
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    #[arg(long, default_value_t = 1e-4)]
    weight_decay: f64,
    /// Largest global gradient norm.
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop after this many steps...
    #[arg(long, default_value_t = 1_000_000)]
    steps: usize,
    /// ...or after this many minutes.
    #[arg(long, default_value_t = 12.0)]
    minutes: f64,
    /// Write a checkpoint every this many steps.
    #[arg(long, default_value_t = 500)]
    checkpoint_every: usize,
    /// Log progress every this many steps.
    #[arg(long, default_value_t = 50)]
    log_every: usize,
    /// Fine-tune: start from this model's weights (same cell, sizes and
    /// features) instead of a seeded initialisation.
    #[arg(long, value_name = "MODEL_DIR")]
    init: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ScheduleArg {
    Constant,
    Cosine,
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if !args.replays.is_dir() {
        bail!(
            "replay folder {} not found (set --replays or FOURSTOCK_REPLAYS)",
            args.replays.display()
        );
    }
    let characters = args
        .character
        .iter()
        .map(|c| character_id(c).ok_or_else(|| anyhow!("unknown character {c:?}")))
        .collect::<anyhow::Result<Vec<u8>>>()?;
    let who = if args.character.is_empty() {
        "every human player".to_string()
    } else {
        args.character.join(", ")
    };
    let shape = crate::card::shape(&args.hidden);
    let mut config = PolicyConfig {
        description: format!(
            "Behavioural cloning of {who} in the Slippi replays of {} ({}), {} {shape}, delay {} frames; made by `fourstock train`.",
            args.replays.display(),
            if args.any_ruleset { "any ruleset" } else { "singles, legal stages, no items" },
            args.cell.name(),
            args.delay,
        ),
        trained: true,
        characters,
        ..PolicyConfig::new(
            args.name.clone(),
            args.cell,
            args.hidden,
            args.speeds,
            args.delay,
        )
    };
    let init = match &args.init {
        Some(dir) => {
            let from = RecurrentPolicy::load(dir)?;
            let same = from.config().cell == config.cell
                && from.config().hidden_sizes == config.hidden_sizes
                && from.config().features == config.features;
            if !same {
                bail!(
                    "--init {}: cell, hidden sizes and features must match",
                    dir.display()
                );
            }
            config
                .description
                .push_str(&format!(" Fine-tuned from {}.", from.config().name));
            Some(from.tensors().to_vec())
        }
        None => None,
    };
    let out = args.models.join(&args.name);
    let job = TrainJob {
        replays: args.replays,
        config,
        options: TrainOptions {
            lanes: args.lanes,
            window: args.window,
            learning_rate: args.lr,
            weight_decay: args.weight_decay,
            clip: args.clip,
            seed: args.seed,
            max_steps: args.steps,
            max_time: Some(Duration::from_secs_f64(args.minutes * 60.0)),
            checkpoint_every: args.checkpoint_every,
            out: Some(out.clone()),
            log_every: args.log_every,
            init,
            schedule: match args.schedule {
                ScheduleArg::Constant => Schedule::Constant,
                ScheduleArg::Cosine => Schedule::Cosine {
                    warmup: args.warmup_steps,
                    floor: args.lr_floor,
                },
            },
            validate_every: args.validate_every,
            patience: args.patience,
        },
        competitive: !args.any_ruleset,
        held_out_percent: args.held_out_percent,
        held_out_players_percent: args.held_out_players_percent,
        validation_percent: args.validation_percent,
        mirror: args.mirror,
        calibrate: args.calibrate,
    };
    let (card_job, card_config) = (job.clone(), job.config.clone());
    let bar = progress_bar();
    let report = job.run_with(&mut |p| show(&bar, p))?;
    bar.finish_and_clear();
    println!("wrote {}", out.display());
    let card = crate::card::CardInput {
        config: &card_config,
        job: &card_job,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        who: &who,
        threads: std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    crate::card::write(&out, &card, &report)?;
    println!("wrote {}", out.join("MODEL_CARD.md").display());
    let title = format!("{}: loss by step", args.name);
    for file in crate::curves::write(&out, &title, &report.train.curve)? {
        println!("wrote {}", file.display());
    }
    if let Some((step, loss)) = report.train.best {
        println!(
            "validation: {} frames of {} players; best loss {loss:.4} at step {step}{}",
            report.validation_frames,
            report.validation_players.len(),
            if report.train.stopped_early {
                " (stopped early, best weights kept)"
            } else if args.patience.is_some() {
                " (best weights kept)"
            } else {
                ""
            }
        );
    }
    if let Some(c) = &report.calibration {
        println!(
            "calibrated on {} validation frames: loss {:.4} -> {:.4}, mean F1 {:.4} -> {:.4}",
            c.fit.frames,
            c.before.total_loss,
            c.after.total_loss,
            c.before.mean_f1,
            c.after.mean_f1
        );
    }
    println!(
        "trained on {} frames from {} files: {} steps, {} frames in {:.1} s, {:.0} frames/s",
        report.train_files.iter().map(|(_, n)| n).sum::<usize>(),
        report.train_files.len(),
        report.train.steps,
        report.train.frames,
        report.train.elapsed.as_secs_f64(),
        report.train.frames_per_second()
    );
    let (first, last) = report.train.first_and_last(50);
    println!("loss {first:.4} (first 50 steps) -> {last:.4} (last 50)");
    println!("training files:");
    for (file, frames) in &report.train_files {
        println!("  {file} ({frames} frames)");
    }
    println!("held-out files: {}", report.held_out_files.join(", "));
    println!("held-out players: {}", report.held_out_players.join(", "));
    println!(
        "validation players: {}",
        report.validation_players.join(", ")
    );
    println!();
    print!("{}", report.held_out);
    println!();
    print!("{}", report.held_out_by_player);
    Ok(())
}

/// A bar on a terminal (hidden otherwise): how far the run is, by steps or
/// by time, whichever ends it first, with the loss and the time left.
fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {percent:>3}% left {eta_precise} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

fn show(bar: &ProgressBar, p: &Progress) {
    let by_steps = p.step as f64 / p.max_steps.max(1) as f64;
    let by_time = p
        .max_time
        .map_or(0.0, |t| p.elapsed.as_secs_f64() / t.as_secs_f64().max(1e-9));
    bar.set_position((1000.0 * by_steps.max(by_time)).min(1000.0) as u64);
    let validation = p
        .validation_loss
        .map(|v| format!(", validation {v:.4}"))
        .unwrap_or_default();
    bar.set_message(format!(
        "step {} loss {:.4}{validation} lr {:.1e}",
        p.step, p.loss, p.learning_rate
    ));
}
