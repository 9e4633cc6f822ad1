//! `fourstock bench`: the load generator. Opens N concurrent sessions
//! against a daemon, each streaming real replay frames, paced at 60 fps with
//! staggered starts (or unpaced), and reports what the clients saw: round
//! trip p50/p99/p99.9/max, late replies, frames per second, and the
//! daemon's CPU use, in cores and per frame. `--find-capacity` raises N
//! until the budget breaks. `--daemon-cpus` and `--cpus` pin the daemon
//! and the generator to chosen CPUs, so neither measures the other.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use fourstock_client::{hello, Client};
use fourstock_proto::{ClientMessage, Hello, ServerMessage};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cpu::{self, CpuList};
use crate::stream::{port_requests, FRAME};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A running daemon to load. Without it, bench starts its own
    /// (`fourstock serve` on an ephemeral port) and measures its CPU.
    #[arg(long)]
    connect: Option<SocketAddr>,
    /// The daemon's process id, to report its CPU use when --connect is given.
    #[arg(long)]
    daemon_pid: Option<u32>,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// How long each trial runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Send each frame as soon as the previous reply arrives, not at 60 fps.
    #[arg(long)]
    unpaced: bool,
    /// Folder of .slp replays to stream (default $FOURSTOCK_REPLAYS, else ../shared/replays).
    #[arg(long, env = "FOURSTOCK_REPLAYS")]
    replays: Option<PathBuf>,
    /// At most this many replays are loaded.
    #[arg(long, default_value_t = 8)]
    max_replays: usize,
    /// The model every session asks for (default: the daemon's choice).
    #[arg(long)]
    model: Option<String>,
    /// Ports each session controls.
    #[arg(long = "port", value_delimiter = ',', default_value = "1")]
    ports: Vec<u8>,
    /// Latency budget that capacity is judged against, in microseconds
    /// (also passed to a daemon that bench starts).
    #[arg(long, default_value_t = 4000)]
    budget_us: u64,
    /// Raise the session count until p99 exceeds the budget or a reply is
    /// late; report the largest count that held.
    #[arg(long)]
    find_capacity: bool,
    /// Extra arguments for a daemon that bench starts, e.g. "--models DIR".
    #[arg(long, allow_hyphen_values = true)]
    daemon_args: Option<String>,
    /// Pin the daemon to these CPUs, e.g. "0": the one bench starts, or
    /// the --daemon-pid one (all its threads).
    #[arg(long)]
    daemon_cpus: Option<CpuList>,
    /// Pin the load generator itself to these CPUs, e.g. "1".
    #[arg(long)]
    cpus: Option<CpuList>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The daemon's token, for a --connect daemon that asks for one.
    #[arg(long, env = "FOURSTOCK_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

/// What one trial measured.
#[derive(Serialize, Clone)]
struct Trial {
    sessions: usize,
    paced: bool,
    seconds: f64,
    frames: u64,
    frames_per_second: f64,
    late: u64,
    round_trip_us_p50: u64,
    round_trip_us_p99: u64,
    round_trip_us_p999: u64,
    round_trip_us_max: u64,
    /// What the daemon reported of each frame's time with it (`server_us`,
    /// read to reply): the round trip less the client's and the network's.
    server_us_p50: u64,
    server_us_p99: u64,
    /// Daemon CPU time over wall time: 1.0 is one core busy.
    daemon_cpu_cores: Option<f64>,
    /// Daemon CPU time per frame answered, in microseconds.
    daemon_cpu_us_per_frame: Option<f64>,
    errors: usize,
}

impl Trial {
    fn held(&self, budget_us: u64) -> bool {
        self.errors == 0 && self.late == 0 && self.round_trip_us_p99 <= budget_us
    }
}

/// One game's messages, shared by every session that streams it.
type Game = Arc<Vec<ClientMessage>>;

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let games = load_games(&args)?;
    let mut daemon = match args.connect {
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
        None => spawn_daemon(&args)?,
    };
    // Before the runtime starts its threads, which inherit it.
    if let Some(CpuList(cpus)) = &args.cpus {
        cpu::pin_current(cpus).with_context(|| format!("pinning bench to CPUs {cpus:?}"))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let trials = if args.find_capacity {
        find_capacity(&runtime, &args, &daemon, &games)?
    } else {
        vec![runtime.block_on(trial(&args, &daemon, &games, args.sessions))?]
    };
    daemon.stop();
    if args.json {
        let capacity = args
            .find_capacity
            .then(|| largest_held(&trials, args.budget_us));
        println!(
            "{}",
            serde_json::json!({ "budget_us": args.budget_us, "trials": trials, "capacity": capacity })
        );
    } else {
        print_table(&trials);
        if args.find_capacity {
            println!(
                "capacity: {} sessions held (p99 <= {} us, no late replies)",
                largest_held(&trials, args.budget_us),
                args.budget_us
            );
        }
    }
    Ok(())
}

fn load_games(args: &BenchArgs) -> anyhow::Result<Vec<Game>> {
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

/// The daemon under load.
struct Target {
    addr: SocketAddr,
    pid: Option<u32>,
    child: Option<Child>,
}

impl Target {
    fn stop(&mut self) {
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

fn spawn_daemon(args: &BenchArgs) -> anyhow::Result<Target> {
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

/// User plus system CPU time of a process, from /proc.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // Linux reports clock ticks, 100 a second on every mainstream kernel.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// What one session saw.
struct SessionResult {
    frames: u64,
    late: u64,
    round_trip_us: Histogram<u64>,
    server_us: Histogram<u64>,
}

async fn trial(
    args: &BenchArgs,
    daemon: &Target,
    games: &[Game],
    sessions: usize,
) -> anyhow::Result<Trial> {
    let length = Duration::from_secs_f64(args.seconds);
    let cpu_before = daemon.pid.and_then(cpu_time);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(sessions);
    let token = args
        .token_file
        .as_deref()
        .map(fourstock_proto::token::read_file)
        .transpose()?;
    for i in 0..sessions {
        let game = games[i % games.len()].clone();
        let hello = Hello {
            token: token.clone(),
            ..hello(port_requests(
                &game,
                &args.ports,
                args.model.as_deref(),
                None,
            )?)
        };
        let addr = daemon.addr;
        let paced = !args.unpaced;
        // Staggered starts spread the sessions over one frame period.
        let offset = FRAME.mul_f64(i as f64 / sessions as f64);
        tasks.push(tokio::spawn(async move {
            session(addr, game, hello, paced, offset, length).await
        }));
    }
    let mut merged = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut server = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut frames, mut late, mut errors) = (0, 0, 0);
    for task in tasks {
        match task.await? {
            Ok(result) => {
                frames += result.frames;
                late += result.late;
                merged.add(&result.round_trip_us)?;
                server.add(&result.server_us)?;
            }
            Err(e) => {
                errors += 1;
                eprintln!("session failed: {e:#}");
            }
        }
    }
    let wall = started.elapsed();
    let cpu_used = match (cpu_before, daemon.pid.and_then(cpu_time)) {
        (Some(before), Some(after)) => Some((after - before).as_secs_f64()),
        _ => None,
    };
    Ok(Trial {
        sessions,
        paced: !args.unpaced,
        seconds: wall.as_secs_f64(),
        frames,
        frames_per_second: frames as f64 / wall.as_secs_f64(),
        late,
        round_trip_us_p50: merged.value_at_percentile(50.0),
        round_trip_us_p99: merged.value_at_percentile(99.0),
        round_trip_us_p999: merged.value_at_percentile(99.9),
        round_trip_us_max: merged.max(),
        server_us_p50: server.value_at_percentile(50.0),
        server_us_p99: server.value_at_percentile(99.0),
        daemon_cpu_cores: cpu_used.map(|used| used / wall.as_secs_f64()),
        daemon_cpu_us_per_frame: cpu_used
            .filter(|_| frames > 0)
            .map(|used| used * 1e6 / frames as f64),
        errors,
    })
}

/// Streams a game's frames, looping, for `length`.
async fn session(
    addr: SocketAddr,
    game: Game,
    hello: Hello,
    paced: bool,
    offset: Duration,
    length: Duration,
) -> anyhow::Result<SessionResult> {
    tokio::time::sleep(offset).await;
    let (mut link, _) = Client::handshake(addr, hello).await?;
    let mut result = SessionResult {
        frames: 0,
        late: 0,
        round_trip_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
        server_us: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    };
    let start = tokio::time::Instant::now();
    let end = start + length;
    let mut due = start;
    'play: loop {
        for message in game.iter() {
            let ClientMessage::Frame(frame) = message else {
                link.send(message).await?;
                continue;
            };
            if paced {
                tokio::time::sleep_until(due).await;
                due += FRAME;
            }
            if tokio::time::Instant::now() >= end {
                break 'play;
            }
            let sent = Instant::now();
            link.send(message).await?;
            let ServerMessage::Reply(reply) = link.recv().await? else {
                bail!("expected a reply to frame {}", frame.frame);
            };
            let us = (sent.elapsed().as_micros() as u64).clamp(1, 60_000_000);
            result.round_trip_us.record(us)?;
            let server_us = reply.outputs.iter().map(|o| o.server_us).max().unwrap_or(0);
            result
                .server_us
                .record((server_us as u64).clamp(1, 60_000_000))?;
            result.frames += 1;
            result.late += reply.outputs.iter().any(|o| o.fallback) as u64;
        }
    }
    Ok(result)
}

fn find_capacity(
    runtime: &tokio::runtime::Runtime,
    args: &BenchArgs,
    daemon: &Target,
    games: &[Game],
) -> anyhow::Result<Vec<Trial>> {
    let mut trials = Vec::new();
    let mut good = 0usize;
    let mut bad = None;
    let mut n = args.sessions.max(1);
    // Double until a trial fails, then bisect between the last good and the first bad.
    loop {
        let t = runtime.block_on(trial(args, daemon, games, n))?;
        let held = t.held(args.budget_us);
        eprintln!(
            "{n} sessions: p99 {} us, late {}, {}",
            t.round_trip_us_p99,
            t.late,
            if held { "held" } else { "broke" }
        );
        trials.push(t);
        if held {
            good = n;
        } else {
            bad = Some(n);
        }
        n = match bad {
            None => n * 2,
            Some(b) if b - good > (good / 16).max(1) => (good + b) / 2,
            Some(_) => break,
        };
        if n > 8192 {
            break;
        }
    }
    Ok(trials)
}

fn largest_held(trials: &[Trial], budget_us: u64) -> usize {
    trials
        .iter()
        .filter(|t| t.held(budget_us))
        .map(|t| t.sessions)
        .max()
        .unwrap_or(0)
}

fn print_table(trials: &[Trial]) {
    println!(
        "{:>8} {:>6} {:>9} {:>10} {:>6} {:>8} {:>8} {:>9} {:>8} {:>10} {:>10} {:>9} {:>12}",
        "sessions",
        "paced",
        "frames",
        "frames/s",
        "late",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "max us",
        "daemon p50",
        "daemon p99",
        "cpu cores",
        "cpu us/frame"
    );
    for t in trials {
        println!(
            "{:>8} {:>6} {:>9} {:>10.0} {:>6} {:>8} {:>8} {:>9} {:>8} {:>10} {:>10} {:>9} {:>12}",
            t.sessions,
            t.paced,
            t.frames,
            t.frames_per_second,
            t.late,
            t.round_trip_us_p50,
            t.round_trip_us_p99,
            t.round_trip_us_p999,
            t.round_trip_us_max,
            t.server_us_p50,
            t.server_us_p99,
            t.daemon_cpu_cores
                .map_or_else(|| "-".to_string(), |c| format!("{c:.2}")),
            t.daemon_cpu_us_per_frame
                .map_or_else(|| "-".to_string(), |c| format!("{c:.0}"))
        );
    }
}
