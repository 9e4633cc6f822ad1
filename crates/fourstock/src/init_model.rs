//! `fourstock init-model`: write a seeded, untrained model, such as the
//! default one shipped in models/ until trained ones replace it.

use std::path::PathBuf;

use clap::Args;
use fourstock_recurrent::{CellKind, PolicyConfig, RecurrentPolicy};

#[derive(Args, Debug)]
pub struct InitModelArgs {
    /// Folder to write config.json and model.safetensors to; its name is the model's name.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "lstm")]
    cell: CellKind,
    /// Hidden size of each layer, bottom first.
    #[arg(long, value_delimiter = ',', default_value = "128,128")]
    hidden: Vec<usize>,
    /// Reaction delay in frames.
    #[arg(long, default_value_t = 0)]
    delay: u32,
    /// Read the five speeds of every player.
    #[arg(long)]
    speeds: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub fn run(args: InitModelArgs) -> anyhow::Result<()> {
    let name = args
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow::anyhow!("--out must name a folder"))?;
    let config = PolicyConfig {
        description: format!(
            "UNTRAINED: a seeded random initialisation (seed {}), made by `fourstock init-model`. \
             It plays nonsense; it exists so the daemon has a model to serve until trained ones ship.",
            args.seed
        ),
        ..PolicyConfig::new(name, args.cell, args.hidden, args.speeds, args.delay)
    };
    let policy = RecurrentPolicy::initialize(config, args.seed)?;
    policy.save(&args.out)?;
    println!("wrote {}", args.out.display());
    Ok(())
}
