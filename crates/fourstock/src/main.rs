//! The `fourstock` command: the daemon and the tools around it.

mod bench;
mod card;
mod cpu;
mod curves;
mod eval;
mod families;
mod health;
mod import;
mod init_model;
mod inspect;
mod load;
mod proc_sample;
mod replay;
mod reply_check;
mod serve;
mod soak;
mod stream;
mod train;
mod umi;
mod wake_latency;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fourstock",
    version,
    about = "Serve recurrent Melee policies, one frame at a time.",
    after_help = "With no command: `umi` when UMI_SOCKET is set (as an arena runs a bot \
                  image), else `serve`, each configured by its environment variables."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
    /// Hold paced sessions for a long time, reconnecting, rolling back and
    /// skipping frames; check every reply and watch the daemon's memory and files.
    Soak(soak::SoakArgs),
    /// Train a policy by imitation on Slippi replays.
    Train(train::TrainArgs),
    /// Evaluate a model on replays against two baselines, head by head.
    Eval(eval::EvalArgs),
    /// Play as a UMI v1 bot: connect to the arena's socket and play until shutdown.
    Umi(umi::UmiArgs),
    /// Ask a running daemon's or bot's metrics endpoint for /healthz; exit 0 if it says ok.
    Health(health::HealthArgs),
}

/// The command a bare `fourstock` runs, as a container's entrypoint does:
/// the UMI bot when an arena has set `UMI_SOCKET`, else the daemon. Its
/// settings come from the environment (`UMI_SOCKET`, `FOURSTOCK_LISTEN`,
/// `FOURSTOCK_MODELS`, ...), as clap reads them for an explicit command.
fn default_command(umi_socket: Option<&std::ffi::OsStr>) -> Command {
    match Cli::parse_from(["fourstock", default_command_name(umi_socket)]).command {
        Some(command) => command,
        None => unreachable!("a command was named"),
    }
}

fn default_command_name(umi_socket: Option<&std::ffi::OsStr>) -> &'static str {
    match umi_socket {
        Some(path) if !path.is_empty() => "umi",
        _ => "serve",
    }
}

/// Says how many cores the thread counts default to, and why.
fn log_cores() {
    let cores = fourstock_policy::cores::cores();
    if let Some(bad) = &cores.rejected {
        tracing::warn!(
            "ignoring {}={bad:?}: not a positive whole number",
            fourstock_policy::cores::UMI_CORES
        );
    }
    tracing::info!("cores: {}, from {}", cores.count, cores.source);
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
    let command = Cli::parse()
        .command
        .unwrap_or_else(|| default_command(std::env::var_os("UMI_SOCKET").as_deref()));
    if matches!(command, Command::Serve(_) | Command::Umi(_)) {
        log_cores();
    }
    match command {
        Command::Serve(args) => serve::run(args),
        Command::InitModel(args) => init_model::run(args),
        Command::Import(args) => import::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Soak(args) => soak::run(args),
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Umi(args) => umi::run(args),
        Command::Health(args) => health::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::ffi::OsStr;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_bare_fourstock_names_no_command() {
        assert!(Cli::try_parse_from(["fourstock"])
            .unwrap()
            .command
            .is_none());
        let health = Cli::try_parse_from(["fourstock", "health", "--addr", "127.0.0.1:1"]);
        assert!(matches!(health.unwrap().command, Some(Command::Health(_))));
    }

    #[test]
    fn a_bare_fourstock_is_the_bot_only_with_a_socket() {
        assert_eq!(
            default_command_name(Some(OsStr::new("/run/umi/umi.sock"))),
            "umi"
        );
        assert_eq!(default_command_name(Some(OsStr::new(""))), "serve");
        assert_eq!(default_command_name(None), "serve");
    }
}
