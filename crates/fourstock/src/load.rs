//! What the load generators (`fourstock bench` and `fourstock soak`)
//! share: the daemon under load, started here or reached with `--connect`,
//! and both sides pinned to chosen CPUs; the replay games every session
//! streams; and the Hello each session opens with. One place, so the soak
//! loads a daemon exactly as bench measures one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use fourstock_client::hello;
use fourstock_proto::{ClientMessage, Hello};

use crate::cpu::{self, CpuList};
use crate::stream::port_requests;

/// The options that say which daemon to load, with what, and where each
/// side runs.
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// A running daemon to load. Without it, one is started
    /// (`fourstock serve` on an ephemeral port) and measured.
    #[arg(long)]
    pub connect: Option<SocketAddr>,
    /// The daemon's process id, to read its CPU time (bench) or its memory
    /// and open files (soak) when --connect is given.
    #[arg(long)]
    pub daemon_pid: Option<u32>,
    /// Folder of .slp replays to stream (default $FOURSTOCK_REPLAYS, else ../shared/replays).
    #[arg(long, env = "FOURSTOCK_REPLAYS")]
    pub replays: Option<PathBuf>,
    /// At most this many replays are loaded.
    #[arg(long, default_value_t = 8)]
    pub max_replays: usize,
    /// The model every session asks for (default: the daemon's choice).
    #[arg(long)]
    pub model: Option<String>,
    /// Ports each session controls.
    #[arg(long = "port", value_delimiter = ',', default_value = "1")]
    pub ports: Vec<u8>,
    /// Latency budget in microseconds: what bench judges capacity
    /// against, and what a daemon started here is given.
    #[arg(long, default_value_t = 4000)]
    pub budget_us: u64,
    /// Extra arguments for a daemon started here, e.g. "--models DIR".
    #[arg(long, allow_hyphen_values = true)]
    pub daemon_args: Option<String>,
    /// Pin the daemon to these CPUs, e.g. "0": the one started here, or
    /// the --daemon-pid one (all its threads).
    #[arg(long)]
    pub daemon_cpus: Option<CpuList>,
    /// Pin the load generator itself to these CPUs, e.g. "1".
    #[arg(long)]
    pub cpus: Option<CpuList>,
    /// The daemon's token, for a --connect daemon that asks for one.
    #[arg(long, env = "FOURSTOCK_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

/// One game's messages, shared by every session that streams it.
pub type Game = Arc<Vec<ClientMessage>>;

/// The daemon under load.
pub struct Target {
    pub addr: SocketAddr,
    pub pid: Option<u32>,
    child: Option<Child>,
}

impl Target {
    /// Stops a daemon started here with SIGTERM and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reaches or starts the daemon, pins it, then pins the calling thread
/// (call before the runtime starts its threads, which inherit the mask).
pub fn prepare(args: &LoadArgs) -> anyhow::Result<Target> {
    let target = match args.connect {
        Some(addr) => {
            if let Some(CpuList(cpus)) = &args.daemon_cpus {
                let pid = args
                    .daemon_pid
                    .context("--daemon-cpus with --connect needs --daemon-pid")?;
                cpu::pin_process(pid, cpus)
                    .with_context(|| format!("pinning daemon {pid} to CPUs {cpus:?}"))?;
            }
            Target {
                addr,
                pid: args.daemon_pid,
                child: None,
            }
        }
        None => spawn_daemon(args)?,
    };
    if let Some(CpuList(cpus)) = &args.cpus {
        cpu::pin_current(cpus)
            .with_context(|| format!("pinning the load generator to CPUs {cpus:?}"))?;
    }
    Ok(target)
}

fn spawn_daemon(args: &LoadArgs) -> anyhow::Result<Target> {
    use std::io::{BufRead, BufReader};
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["serve", "--listen", "127.0.0.1:0", "--budget-us"]);
    command.arg(args.budget_us.to_string());
    if let Some(extra) = &args.daemon_args {
        command.args(extra.split_whitespace());
    }
    if let Some(CpuList(cpus)) = args.daemon_cpus.clone() {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec the closure makes one system call
        // (sched_setaffinity on a list checked when parsed) and allocates
        // nothing; the daemon and every thread it starts inherit the mask.
        unsafe {
            command.pre_exec(move || cpu::pin_current(&cpus));
        }
    }
    let mut child = command
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting a daemon")?;
    let stderr = child.stderr.take().context("daemon stderr")?;
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("addr=").nth(1) {
                let _ = found.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let pid = child.id();
    let mut target = Target {
        addr: "127.0.0.1:0".parse()?,
        pid: Some(pid),
        child: Some(child),
    };
    let addr = address
        .recv_timeout(Duration::from_secs(60))
        .context("the daemon did not report its address")?;
    target.addr = addr.parse()?;
    Ok(target)
}

/// The client side's runtime: one worker thread, so the load generator
/// takes one core (the one it is pinned to) and leaves the rest to the
/// daemon.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// Up to `--max-replays` full games with every wanted port.
pub fn load_games(args: &LoadArgs) -> anyhow::Result<Vec<Game>> {
    let dir = args
        .replays
        .clone()
        .unwrap_or_else(|| PathBuf::from("../shared/replays"));
    let files = fourstock_replay::replay_files(&dir)
        .with_context(|| format!("listing replays in {}", dir.display()))?;
    let mut games = Vec::new();
    for file in files {
        if games.len() >= args.max_replays {
            break;
        }
        // Only full games with every wanted port make good load.
        let Ok(replay) = fourstock_replay::read_replay(&file) else {
            continue;
        };
        if replay.messages.len() < 600
            || port_requests(&replay.messages, &args.ports, None, None).is_err()
        {
            continue;
        }
        games.push(Arc::new(replay.messages));
    }
    if games.is_empty() {
        bail!("no usable replays in {}", dir.display());
    }
    Ok(games)
}

/// The token to present, read once from `--token-file`.
pub fn token(args: &LoadArgs) -> anyhow::Result<Option<String>> {
    Ok(args
        .token_file
        .as_deref()
        .map(fourstock_proto::token::read_file)
        .transpose()?)
}

/// The Hello a session streaming `game` opens with.
pub fn session_hello(args: &LoadArgs, game: &Game, token: Option<String>) -> anyhow::Result<Hello> {
    Ok(Hello {
        token,
        ..hello(port_requests(
            game,
            &args.ports,
            args.model.as_deref(),
            None,
        )?)
    })
}
