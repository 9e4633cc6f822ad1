//! `fourstock eval MODEL FILES...`: a model's per-head accuracy and loss on
//! replays, beside the "repeat the previous input" and "most frequent
//! class" baselines, stepped exactly as the daemon steps it.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use fourstock_recurrent::RecurrentPolicy;
use fourstock_replay::replay_files;
use fourstock_train::dataset;

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
    /// Keep only the files `fourstock train --held-out-percent P` held out.
    #[arg(long, value_name = "P")]
    held_out_percent: Option<u32>,
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
    if let Some(percent) = args.held_out_percent {
        files.retain(|f| dataset::held_out(f, percent));
    }
    if files.is_empty() {
        bail!("no replay files to evaluate");
    }
    let evaluation = fourstock_train::evaluate_files(&policy, &files, !args.any_ruleset)?;
    if evaluation.frames == 0 {
        bail!(
            "none of the {} files has a port {} learns from",
            files.len(),
            policy.config().name
        );
    }
    print!("{evaluation}");
    Ok(())
}
