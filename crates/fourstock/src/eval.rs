//! `fourstock eval MODEL FILES...`: a model's per-head accuracy, loss and
//! F1 on replays, beside the "repeat the previous input" and "most
//! frequent class" baselines, stepped exactly as the daemon steps it.
//! The frames are every selected port of the files, or the ones
//! `fourstock train` held out: by file, or by player. The margins over the
//! baselines come with intervals from resampling the players.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use fourstock_recurrent::RecurrentPolicy;
use fourstock_replay::replay_files;
use fourstock_train::{dataset, eval};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The model's folder (config.json and model.safetensors).
    model: PathBuf,
    /// Replay files, or folders of them.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Score every game, not only singles on a legal stage with items off.
    #[arg(long)]
    any_ruleset: bool,
    /// Keep only what `fourstock train` held out: P percent of the files
    /// (`--split files`) or of the players (`--split players`).
    #[arg(long, value_name = "P")]
    held_out_percent: Option<u32>,
    /// How `--held-out-percent` chooses: whole files, or every port of the
    /// held-out players (by Slippi connect code; an unnamed player counts
    /// as a new person in every file).
    #[arg(long, value_enum, default_value = "files")]
    split: SplitArg,
    /// Add a breakdown: `character` scores each character's ports alone.
    #[arg(long, value_enum, value_name = "WHAT")]
    by: Option<ByArg>,
    /// Print the whole evaluation as one JSON object (every class's F1
    /// included) instead of tables.
    #[arg(long)]
    json: bool,
    /// Resample the scored players this many times (seeded) for 95%
    /// intervals on the policy's margins over both baselines; 0 for none.
    #[arg(long, value_name = "N", default_value_t = fourstock_train::margins::RESAMPLES)]
    resamples: usize,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SplitArg {
    Files,
    Players,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ByArg {
    Character,
}

pub fn run(args: EvalArgs) -> anyhow::Result<()> {
    let policy = RecurrentPolicy::load(&args.model)?;
    let mut files = Vec::new();
    for path in &args.files {
        if path.is_dir() {
            files
                .extend(replay_files(path).with_context(|| format!("listing {}", path.display()))?);
        } else {
            files.push(path.clone());
        }
    }
    let mut split = String::new();
    if let (Some(percent), SplitArg::Files) = (args.held_out_percent, args.split) {
        files.retain(|f| dataset::held_out(f, percent));
        split = format!("held-out files ({percent}%)");
    }
    if files.is_empty() {
        bail!("no replay files to evaluate");
    }
    let mut sequences = dataset::load(&files, &eval::selection_of(&policy, !args.any_ruleset));
    if let (Some(percent), SplitArg::Players) = (args.held_out_percent, args.split) {
        sequences.retain(|s| dataset::held_out_player(&s.player, percent));
        split = format!("held-out players ({percent}%)");
    }
    let mut evaluation = fourstock_train::evaluate(&policy, &sequences, 16)?;
    evaluation.split = split;
    evaluation.resample(args.resamples, 0);
    if evaluation.frames == 0 {
        bail!(
            "none of the {} files has a port {} learns from",
            files.len(),
            policy.config().name
        );
    }
    if args.json {
        if args.by.is_none() {
            evaluation.by_character.clear();
        }
        println!("{}", serde_json::to_string_pretty(&evaluation)?);
        return Ok(());
    }
    print!("{evaluation}");
    if let Some(ByArg::Character) = args.by {
        println!();
        println!("By character (mean accuracy, mean F1 and summed loss over the six heads):");
        println!();
        print!("{}", evaluation.character_table());
    }
    Ok(())
}
