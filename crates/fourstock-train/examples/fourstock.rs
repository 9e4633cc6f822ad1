//! `fourstock train` and `fourstock eval` as the `fourstock` command runs
//! them: this example compiles crates/fourstock/src/{train,eval}.rs as they
//! are, so they can be used before they are wired into the command.
//!
//! `cargo run --release -p fourstock-train --example fourstock -- train --name falco --character falco`

#[path = "../../fourstock/src/eval.rs"]
mod eval;
#[path = "../../fourstock/src/train.rs"]
mod train;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a policy from Slippi replays.
    Train(train::TrainArgs),
    /// Score a model against two baselines on replays.
    Eval(eval::EvalArgs),
}

fn main() -> anyhow::Result<()> {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,peppi=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
    }
}
