//! `fourstock train`: imitation learning from a folder of Slippi replays.
//! Trains a policy for one character (or every human player) and writes
//! it to models/NAME, where `fourstock serve` finds it; then prints the
//! held-out evaluation. The work is fourstock-train's [`TrainJob`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};
use clap::Args;
use fourstock_recurrent::{CellKind, PolicyConfig, RecurrentPolicy};
use fourstock_train::{character_id, TrainJob, TrainOptions};

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
    let shape = args
        .hidden
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join("x");
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
        },
        competitive: !args.any_ruleset,
        held_out_percent: args.held_out_percent,
    };
    let report = job.run()?;
    println!("wrote {}", out.display());
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
    println!();
    print!("{}", report.held_out);
    Ok(())
}
