//! `fourstock umi`: play in a UMI v1 arena (the Computer Melee
//! Championship's) as one bot process, until the arena's `shutdown`.

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use fourstock_policy::ModelRegistry;
use fourstock_telemetry::Telemetry;
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
    /// Serve Prometheus metrics (`/metrics`) and `/healthz` over HTTP on
    /// this address, as `fourstock serve --metrics` does; 127.0.0.1:9464
    /// when given without one. An arena's sandbox has no network: this is
    /// for bots run by hand.
    #[arg(long, env = "FOURSTOCK_METRICS", num_args = 0..=1,
          default_missing_value = "127.0.0.1:9464")]
    metrics: Option<std::net::SocketAddr>,
}

pub fn run(args: UmiArgs) -> anyhow::Result<()> {
    let dir = args.models.unwrap_or_else(default_models_dir);
    let models = ModelRegistry::load(&dir, &crate::families::all())
        .with_context(|| format!("loading models from {}", dir.display()))?;
    let stream = UnixStream::connect(&args.socket)
        .with_context(|| format!("connecting to the arena at {}", args.socket.display()))?;
    let _awake = args.cpu_wake_latency_us.and_then(WakeLatency::try_hold);
    let telemetry = Arc::new(Telemetry::new());
    if let Some(addr) = args.metrics {
        serve_metrics(addr, telemetry.clone())?;
    }
    let config = BotConfig {
        model: args.model,
        ..BotConfig::new(args.name, telemetry)
    };
    fourstock_umi::play(stream, &models, &config)?;
    Ok(())
}

/// Serves `/metrics` and `/healthz` on `addr` from a thread of its own for
/// as long as the process lives: the bot itself runs no async runtime.
fn serve_metrics(addr: std::net::SocketAddr, telemetry: Arc<Telemetry>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("binding the metrics endpoint {addr}"))?;
    std::thread::Builder::new()
        .name("fourstock-metrics".into())
        .spawn(move || {
            runtime.block_on(fourstock_telemetry::serve(
                listener,
                telemetry,
                std::future::pending::<()>(),
            ))
        })?;
    Ok(())
}
