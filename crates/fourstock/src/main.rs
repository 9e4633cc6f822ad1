//! The `fourstock` command: the daemon and the tools around it.

mod bench;
mod cpu;
mod eval;
mod families;
mod import;
mod init_model;
mod inspect;
mod replay;
mod serve;
mod stream;
mod train;
mod umi;
mod wake_latency;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fourstock",
    version,
    about = "Serve recurrent Melee policies, one frame at a time."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: answer every frame with controller outputs.
    Serve(serve::ServeArgs),
    /// Write a seeded, untrained model to a folder.
    InitModel(init_model::InitModelArgs),
    /// Convert another project's checkpoint into a model folder.
    Import(import::ImportArgs),
    /// Summarise Slippi replays: version, stage, characters, stock losses, ruleset fit.
    Inspect(inspect::InspectArgs),
    /// Stream replays to a running daemon as an emulator would, and check every reply.
    Replay(replay::ReplayArgs),
    /// Load a daemon with many concurrent sessions and report latency and capacity.
    Bench(bench::BenchArgs),
    /// Train a policy by imitation on Slippi replays.
    Train(train::TrainArgs),
    /// Evaluate a model on replays against two baselines, head by head.
    Eval(eval::EvalArgs),
    /// Play as a UMI v1 bot: connect to the arena's socket and play until shutdown.
    Umi(umi::UmiArgs),
}

fn main() -> anyhow::Result<()> {
    // candle reads RAYON_NUM_THREADS on every matmul and, when it is unset,
    // counts the CPUs again each time (tens of microseconds a step). Each
    // compute thread runs its own step, so one thread per matmul is right
    // unless the operator says otherwise. Set before any thread starts.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,peppi=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args),
        Command::InitModel(args) => init_model::run(args),
        Command::Import(args) => import::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Umi(args) => umi::run(args),
    }
}
