//! `fourstock umi`: play in a UMI v1 arena (the Computer Melee
//! Championship's) as one bot process, until the arena's `shutdown`.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use fourstock_policy::ModelRegistry;
use fourstock_umi::BotConfig;

use crate::serve::default_models_dir;
use crate::wake_latency::WakeLatency;

#[derive(Args, Debug)]
pub struct UmiArgs {
    /// The arena's Unix socket.
    #[arg(long, env = "UMI_SOCKET")]
    socket: PathBuf,
    /// Models folder (index.json plus one folder per model). Defaults to
    /// ./models, else the repository's models/.
    #[arg(long, env = "FOURSTOCK_MODELS")]
    models: Option<PathBuf>,
    /// Play every game with this model; by default each game gets the model
    /// made for its character, else the folder's default.
    #[arg(long)]
    model: Option<String>,
    /// The bot's name in its hello.
    #[arg(long, default_value = "fourstock")]
    name: String,
    /// Ask Linux to keep every idle CPU within this many microseconds of
    /// waking while the bot plays (0 keeps idle CPUs polling), as `fourstock
    /// serve` does. Shortens paced replies on VMs and laptops; needs write
    /// access to /dev/cpu_dma_latency, which an arena's sandbox does not
    /// give, and the bot warns and plays without.
    #[arg(long)]
    cpu_wake_latency_us: Option<u32>,
}

pub fn run(args: UmiArgs) -> anyhow::Result<()> {
    let dir = args.models.unwrap_or_else(default_models_dir);
    let models = ModelRegistry::load(&dir, &crate::families::all())
        .with_context(|| format!("loading models from {}", dir.display()))?;
    let stream = UnixStream::connect(&args.socket)
        .with_context(|| format!("connecting to the arena at {}", args.socket.display()))?;
    let _awake = args.cpu_wake_latency_us.and_then(WakeLatency::try_hold);
    let config = BotConfig {
        name: args.name,
        model: args.model,
    };
    fourstock_umi::play(stream, &models, &config)?;
    Ok(())
}
