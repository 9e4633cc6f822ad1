//! `fourstock bench`: the load generator. Opens N concurrent sessions
//! against a daemon, each streaming real replay frames, paced at 60 fps with
//! staggered starts (or unpaced), and reports what the clients saw: round
//! trip p50/p99/p99.9/max, late replies, frames per second, and the
//! daemon's CPU use, in cores and per frame. `--find-capacity` raises N
//! until the budget breaks. `--daemon-cpus` and `--cpus` pin the daemon
//! and the generator to chosen CPUs, so neither measures the other; the
//! daemon, the pinning and the games are `load`'s, shared with `soak`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use fourstock_client::Client;
use fourstock_proto::{ClientMessage, Hello, ServerMessage};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::load::{self, Game, LoadArgs, Target};
use crate::stream::FRAME;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 1)]
    sessions: usize,
    /// How long each trial runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Send each frame as soon as the previous reply arrives, not at 60 fps.
    #[arg(long)]
    unpaced: bool,
    /// Raise the session count until p99 exceeds the budget or a reply is
    /// late; report the largest count that held.
    #[arg(long)]
    find_capacity: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
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

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let games = load::load_games(&args.load)?;
    let mut daemon = load::prepare(&args.load)?;
    let runtime = load::runtime()?;
    let trials = if args.find_capacity {
        find_capacity(&runtime, &args, &daemon, &games)?
    } else {
        vec![runtime.block_on(trial(&args, &daemon, &games, args.sessions))?]
    };
    daemon.stop();
    if args.json {
        let capacity = args
            .find_capacity
            .then(|| largest_held(&trials, args.load.budget_us));
        println!(
            "{}",
            serde_json::json!({ "budget_us": args.load.budget_us, "trials": trials, "capacity": capacity })
        );
    } else {
        print_table(&trials);
        if args.find_capacity {
            println!(
                "capacity: {} sessions held (p99 <= {} us, no late replies)",
                largest_held(&trials, args.load.budget_us),
                args.load.budget_us
            );
        }
    }
    Ok(())
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
    let token = load::token(&args.load)?;
    for i in 0..sessions {
        let game = games[i % games.len()].clone();
        let hello = load::session_hello(&args.load, &game, token.clone())?;
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
        let held = t.held(args.load.budget_us);
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
