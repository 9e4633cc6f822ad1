//! `fourstock serve`: load the models, listen, serve until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use fourstock_policy::ModelRegistry;
use fourstock_server::{Access, FallbackMode, ServerConfig, ThreadHook, Token};
use tracing::{info, warn};

use crate::cpu;
use crate::wake_latency::WakeLatency;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: the emulator runs beside it.
    #[arg(long, default_value = "127.0.0.1:4848", env = "FOURSTOCK_LISTEN")]
    listen: SocketAddr,
    /// Models folder (index.json plus one folder per model). Defaults to
    /// ./models, else the repository's models/.
    #[arg(long, env = "FOURSTOCK_MODELS")]
    models: Option<PathBuf>,
    /// Latency budget per frame, in microseconds, from reading a frame to
    /// replying. A client may ask for a stricter one.
    #[arg(long, default_value_t = 4000)]
    budget_us: u64,
    /// What a late reply carries: `repeat` (the last output) or `neutral`.
    #[arg(long, default_value = "repeat")]
    fallback: FallbackMode,
    /// Connections served at once; more are told they are turned away.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// End a session whose client sends nothing for this many seconds
    /// (Dolphin sends nothing in the menus between games); 0: never.
    #[arg(long, default_value_t = 300)]
    idle_timeout_secs: u64,
    /// End a session whose client reads nothing for this many milliseconds
    /// while a reply waits to be sent.
    #[arg(long, default_value_t = 1000)]
    write_timeout_ms: u64,
    /// Event loops: threads that read frames, step fast models inline and
    /// send replies, each serving its share of the connections (default:
    /// one per core the daemon may use).
    #[arg(long)]
    event_loops: Option<usize>,
    /// Keep each event loop polling its sockets instead of sleeping between
    /// frames: a frame is read the moment it lands, and each loop keeps a
    /// core busy. For one bot beside Dolphin on a machine whose idle cores
    /// wake slowly; not for a shared ladder machine. Not with
    /// --realtime-priority: a real-time thread that never sleeps starves
    /// the kernel work on its core that delivers its own replies.
    #[arg(long, conflicts_with = "realtime_priority")]
    busy_poll: bool,
    /// Step every model on the compute threads, never inline on the event
    /// loops. By default a fixed-cost model whose step takes at most a
    /// sixteenth of the budget steps inline, timed at start-up.
    #[arg(long)]
    no_inline_steps: bool,
    /// Threads that step the models too slow to step inline (default: one
    /// per core).
    #[arg(long)]
    compute_threads: Option<usize>,
    /// The most ports a compute thread steps as one batch across sessions
    /// sharing a model (1: none). Inline models batch every ready frame,
    /// up to a size timed at start-up.
    #[arg(long, default_value_t = 1)]
    max_batch: usize,
    /// Seed of every port's sampling stream (for sampling models).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Ask Linux to keep every idle CPU within this many microseconds of
    /// waking while the daemon runs (PM QoS, /dev/cpu_dma_latency; 0 keeps
    /// idle CPUs polling). Shortens paced round trips on VMs and laptops
    /// at the price of idle cores spinning. Needs write access to the
    /// device; without it the daemon warns and serves anyway.
    #[arg(long)]
    cpu_wake_latency_us: Option<u32>,
    /// Run the event loops, which read frames, step fast models and send
    /// replies and fallbacks, as real-time threads (SCHED_FIFO), and the
    /// compute threads at nice -10, so a busy machine delays neither. Needs
    /// CAP_SYS_NICE (root, or a raised RLIMIT_RTPRIO/RLIMIT_NICE); where it
    /// is refused the daemon warns and serves at normal priority. Real-time
    /// threads come before everything else on their CPU, Dolphin included.
    #[arg(long)]
    realtime_priority: bool,
    /// Serve Prometheus metrics (`/metrics`) and a health check
    /// (`/healthz`) over HTTP on this address; 127.0.0.1:9464 when the
    /// flag is given without one. Beyond loopback they are readable by
    /// anyone who can reach the port.
    #[arg(long, env = "FOURSTOCK_METRICS", num_args = 0..=1,
          default_missing_value = "127.0.0.1:9464")]
    metrics: Option<SocketAddr>,
    /// A file holding the shared secret every client's Hello must carry
    /// (one line of text; at most 256 bytes). Needed to listen beyond
    /// loopback. Clients give the same file: `fourstock replay
    /// --token-file`, `fourstock_bridge.py --token-file`.
    #[arg(long, env = "FOURSTOCK_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Listen beyond loopback without a token: anyone who reaches the
    /// address can use the daemon. Only for a network you trust.
    #[arg(
        long,
        env = "FOURSTOCK_INSECURE_NO_AUTH",
        conflicts_with = "token_file"
    )]
    insecure_no_auth: bool,
}

/// Who may use the daemon, from `--token-file` and `--insecure-no-auth`,
/// checked against the listening address before anything is loaded.
fn access(args: &ServeArgs) -> anyhow::Result<Access> {
    let access = match &args.token_file {
        Some(path) => Access::Token(Token::read(path)?),
        None if args.insecure_no_auth => Access::Insecure,
        None => Access::Loopback,
    };
    access.permits(args.listen)?;
    Ok(access)
}

/// Raises the soft limit on open files to the hard limit. Every session
/// is a socket, and the usual soft limit of 1024 would stop the daemon
/// short of `--max-connections` while the hard limit allows far more.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write only the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur >= limit.rlim_max {
        return;
    }
    let was = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } == 0 {
        info!(
            "open files: soft limit raised from {was} to {}",
            limit.rlim_max
        );
    } else {
        warn!(
            "open files: could not raise the soft limit of {was}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// The models folder to use when none is given.
pub fn default_models_dir() -> PathBuf {
    let here = PathBuf::from("models");
    if here.join("index.json").is_file() {
        return here;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let access = access(&args)?;
    raise_fd_limit();
    let dir = args.models.unwrap_or_else(default_models_dir);
    let models = ModelRegistry::load(&dir, &crate::families::all())
        .with_context(|| format!("loading models from {}", dir.display()))?;
    let defaults = ServerConfig::default();
    let mut config = ServerConfig {
        budget: Duration::from_micros(args.budget_us.max(1)),
        fallback: args.fallback,
        max_connections: args.max_connections.max(1),
        idle_timeout: (args.idle_timeout_secs > 0)
            .then(|| Duration::from_secs(args.idle_timeout_secs)),
        write_timeout: Duration::from_millis(args.write_timeout_ms.max(1)),
        event_loops: args.event_loops.unwrap_or(defaults.event_loops).max(1),
        busy_poll: args.busy_poll,
        inline_steps: !args.no_inline_steps,
        compute_threads: args.compute_threads.unwrap_or(defaults.compute_threads),
        max_batch: args.max_batch.max(1),
        seed: args.seed,
        access,
        ..defaults
    };
    let _awake = args.cpu_wake_latency_us.and_then(WakeLatency::try_hold);
    if args.realtime_priority {
        // This thread starts the compute threads, which inherit its nice
        // value; each event loop raises itself as it starts.
        match cpu::raise_nice() {
            Ok(got) => info!(?got, "compute threads raised"),
            Err(e) => warn!("--realtime-priority: compute threads stay at normal priority: {e}"),
        }
        let reported = Arc::new(AtomicBool::new(false));
        config.on_loop_start = Some(ThreadHook(Arc::new(move || {
            let got = cpu::raise_to_realtime();
            if !reported.swap(true, Ordering::Relaxed) {
                match got {
                    Ok(got) => info!(?got, "event loops raised"),
                    Err(e) => {
                        warn!("--realtime-priority: event loops stay at normal priority: {e}")
                    }
                }
            }
        })));
    }
    // This thread only accepts connections and waits for a signal; the
    // sessions run on the server's event loops.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        if let Some(addr) = args.metrics {
            let endpoint = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the metrics endpoint {addr}"))?;
            // Serves until the runtime ends, after the last session.
            let telemetry = config.telemetry.clone();
            tokio::spawn(fourstock_telemetry::serve(
                endpoint,
                telemetry,
                std::future::pending::<()>(),
            ));
        }
        fourstock_server::run(listener, models, config, shutdown_signal()).await?;
        Ok(())
    })
}

/// Completes on Ctrl-C, or on SIGTERM (how containers are stopped).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
