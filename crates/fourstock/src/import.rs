//! `fourstock import slippi-ai CHECKPOINT --out models/NAME`: convert a
//! slippi-ai checkpoint pickle into a model folder the daemon serves. The
//! pickle is read by a restricted reader that never executes code.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    source: Source,
}

#[derive(Subcommand, Debug)]
enum Source {
    /// A slippi-ai (JAX) checkpoint pickle, e.g. jax_demo.pkl.
    SlippiAi {
        /// The checkpoint pickle.
        checkpoint: PathBuf,
        /// The model folder to write (config.json + model.safetensors).
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(args: ImportArgs) -> anyhow::Result<()> {
    match args.source {
        Source::SlippiAi { checkpoint, out } => {
            let report = fourstock_slippi_import::import_checkpoint(&checkpoint, &out)
                .with_context(|| format!("importing {}", checkpoint.display()))?;
            println!(
                "wrote {}: slippi-ai {} ({} tensors, {} parameters), delay {} frames",
                out.display(),
                report.config.name,
                report.tensors,
                report.parameters,
                report.config.delay
            );
            Ok(())
        }
    }
}
