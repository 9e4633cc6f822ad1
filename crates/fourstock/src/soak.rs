//! `fourstock soak`: the long run. Holds N paced sessions against a daemon
//! for a long time (30 minutes by default) while each behaves as a real
//! client may: it closes and opens a new session at seeded random times,
//! re-sends a few recent frames as Slippi's rollback does, and skips
//! frames (gaps). Every reply is judged by [`ReplyChecker`]; every
//! `--sample-secs` the daemon's resident memory and open files are read
//! and printed. The summary flags memory that grew after the warm-up and
//! files not given back; any violation or failed session makes the
//! command exit non-zero.
//!
//! The daemon, the pinning and the games are `load`'s, exactly as `bench`
//! uses them; the pacing is bench's too (60 frames a second, staggered
//! starts over one frame).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use fourstock_client::Client;
use fourstock_proto::{ClientMessage, Hello, ServerMessage};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::time::Instant;

use crate::load::{self, Game, LoadArgs};
use crate::proc_sample::{self, Sample};
use crate::reply_check::{ReplyChecker, Violation};
use crate::stream::FRAME;

#[derive(Args, Debug)]
pub struct SoakArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Concurrent sessions.
    #[arg(long, default_value_t = 256)]
    sessions: usize,
    /// How long the soak runs, in seconds.
    #[arg(long, default_value_t = 1800.0)]
    seconds: f64,
    /// Seed of every session's reconnect times, re-sends and gaps.
    #[arg(long, default_value_t = 14)]
    seed: u64,
    /// Mean life of one connection in seconds (uniform between half and
    /// one and a half times it); then it closes and a new one opens.
    #[arg(long, default_value_t = 120.0)]
    reconnect_secs: f64,
    /// Percent of frames followed by a rollback: 1 to 7 recent frames sent again.
    #[arg(long, default_value_t = 2.0)]
    resend_percent: f64,
    /// Percent of frames that start a gap: 1 to 3 frames never sent.
    #[arg(long, default_value_t = 1.0)]
    gap_percent: f64,
    /// Seconds between readings of the daemon's memory and open files.
    #[arg(long, default_value_t = 10.0)]
    sample_secs: f64,
    /// Memory growth is measured from the first reading after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    warmup_secs: f64,
    /// Flag resident memory that grew by more than this percentage after the warm-up.
    #[arg(long, default_value_t = 5.0)]
    rss_growth_percent: f64,
    /// Print each reading and the summary as JSON lines.
    #[arg(long)]
    json: bool,
}

/// How long a frame's reply may take before it counts as missing.
const REPLY_WAIT: Duration = Duration::from_secs(5);

/// How many violations are shown as examples.
const EXAMPLES: usize = 10;

/// The most recent frames a rollback may re-send.
const ROLLBACK: usize = 7;

/// The running totals every session adds to.
#[derive(Default)]
struct Counters {
    /// Frames sent, re-sends included.
    frames: AtomicU64,
    resends: AtomicU64,
    gaps: AtomicU64,
    replies: AtomicU64,
    /// Replies with `fallback` set: the budget was missed (a re-send of
    /// a late frame's reply counts again).
    late: AtomicU64,
    violations: AtomicU64,
    /// Connections opened after each session's first.
    reconnects: AtomicU64,
    /// Connections that failed (refused, reset, timed out).
    errors: AtomicU64,
    examples: Mutex<Vec<String>>,
}

impl Counters {
    fn count(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn violation(&self, session: usize, v: &Violation) {
        Counters::count(&self.violations, 1);
        self.example(format!("session {session}: {v}"));
    }

    fn example(&self, text: String) {
        let mut examples = self.examples.lock().unwrap_or_else(|e| e.into_inner());
        if examples.len() < EXAMPLES {
            examples.push(text);
        }
    }
}

/// One reading of the daemon, with the totals at that moment.
#[derive(Serialize)]
struct Reading {
    seconds: f64,
    rss_kib: u64,
    fds: u64,
    frames: u64,
    replies: u64,
    late: u64,
    violations: u64,
    reconnects: u64,
    errors: u64,
}

/// What the whole soak saw.
#[derive(Serialize)]
struct Summary {
    sessions: usize,
    seconds: f64,
    frames: u64,
    resends: u64,
    gaps: u64,
    replies: u64,
    late: u64,
    violations: u64,
    reconnects: u64,
    errors: u64,
    examples: Vec<String>,
    /// Memory and files, when the daemon's pid is known: before the load,
    /// at the first reading after warm-up, the largest, and the last
    /// under load; files once every session has closed.
    rss_kib_first: Option<u64>,
    rss_kib_after_warmup: Option<u64>,
    rss_kib_max: Option<u64>,
    rss_kib_last: Option<u64>,
    fds_first: Option<u64>,
    fds_max: Option<u64>,
    fds_last: Option<u64>,
    fds_after_close: Option<u64>,
    /// What looks like a leak, in words.
    flags: Vec<String>,
}

pub fn run(args: SoakArgs) -> anyhow::Result<()> {
    for (name, percent) in [
        ("--resend-percent", args.resend_percent),
        ("--gap-percent", args.gap_percent),
    ] {
        if !(0.0..=100.0).contains(&percent) {
            bail!("{name} {percent} is not between 0 and 100");
        }
    }
    if !(args.reconnect_secs > 0.0 && args.sample_secs > 0.0 && args.seconds >= 0.0) {
        bail!("--reconnect-secs and --sample-secs must be above 0, --seconds at least 0");
    }
    let games = load::load_games(&args.load)?;
    let mut daemon = load::prepare(&args.load)?;
    let runtime = load::runtime()?;
    let summary = runtime.block_on(soak(&args, daemon.addr, daemon.pid, &games))?;
    daemon.stop();
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
    }
    if summary.violations > 0 || summary.errors > 0 {
        bail!(
            "the soak failed: {} violations, {} failed connections",
            summary.violations,
            summary.errors
        );
    }
    Ok(())
}

async fn soak(
    args: &SoakArgs,
    addr: SocketAddr,
    pid: Option<u32>,
    games: &[Game],
) -> anyhow::Result<Summary> {
    let counters = Arc::new(Counters::default());
    let token = load::token(&args.load)?;
    let first = match pid {
        Some(pid) => Some(proc_sample::sample(pid).context("reading the daemon's /proc")?),
        None => {
            eprintln!("no daemon pid (--daemon-pid): its memory and files are not read");
            None
        }
    };
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(args.seconds);
    let plan = Plan {
        addr,
        end,
        reconnect_secs: args.reconnect_secs,
        resend: args.resend_percent / 100.0,
        gap: args.gap_percent / 100.0,
    };
    let mut tasks = Vec::with_capacity(args.sessions);
    for i in 0..args.sessions {
        let game = games[i % games.len()].clone();
        let hello = load::session_hello(&args.load, &game, token.clone())?;
        let offset = FRAME.mul_f64(i as f64 / args.sessions.max(1) as f64);
        let rng = StdRng::seed_from_u64(args.seed.wrapping_add(i as u64));
        let (plan, counters) = (plan.clone(), counters.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            session(i, plan, game, hello, rng, &counters).await
        }));
    }
    let mut readings = Vec::new();
    if let Some(pid) = pid {
        let every = Duration::from_secs_f64(args.sample_secs);
        let mut next = start + every;
        while next <= end {
            tokio::time::sleep_until(next).await;
            next += every;
            let sample = proc_sample::sample(pid).context("reading the daemon's /proc")?;
            let reading = reading(start, sample, &counters);
            print_reading(&reading, args.json)?;
            readings.push(reading);
        }
    }
    for task in tasks {
        task.await?;
    }
    let fds_after_close = match (pid, first) {
        (Some(pid), Some(first)) => Some(fds_settled(pid, first.fds).await?),
        _ => None,
    };
    let examples = counters
        .examples
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let after_warmup = readings
        .iter()
        .find(|r| r.seconds >= args.warmup_secs)
        .map(|r| r.rss_kib);
    let last = readings.last();
    let mut summary = Summary {
        sessions: args.sessions,
        seconds: start.elapsed().as_secs_f64(),
        frames: Counters::get(&counters.frames),
        resends: Counters::get(&counters.resends),
        gaps: Counters::get(&counters.gaps),
        replies: Counters::get(&counters.replies),
        late: Counters::get(&counters.late),
        violations: Counters::get(&counters.violations),
        reconnects: Counters::get(&counters.reconnects),
        errors: Counters::get(&counters.errors),
        examples,
        rss_kib_first: first.map(|s| s.rss_kib),
        rss_kib_after_warmup: after_warmup,
        rss_kib_max: readings
            .iter()
            .map(|r| r.rss_kib)
            .chain(first.map(|s| s.rss_kib))
            .max(),
        rss_kib_last: last.map(|r| r.rss_kib),
        fds_first: first.map(|s| s.fds),
        fds_max: readings
            .iter()
            .map(|r| r.fds)
            .chain(first.map(|s| s.fds))
            .max(),
        fds_last: last.map(|r| r.fds),
        fds_after_close,
        flags: Vec::new(),
    };
    summary.flags = flags(&summary, args.rss_growth_percent);
    Ok(summary)
}

fn reading(start: Instant, sample: Sample, counters: &Counters) -> Reading {
    Reading {
        seconds: start.elapsed().as_secs_f64(),
        rss_kib: sample.rss_kib,
        fds: sample.fds,
        frames: Counters::get(&counters.frames),
        replies: Counters::get(&counters.replies),
        late: Counters::get(&counters.late),
        violations: Counters::get(&counters.violations),
        reconnects: Counters::get(&counters.reconnects),
        errors: Counters::get(&counters.errors),
    }
}

/// The daemon's open files once the sessions are gone: read again for up
/// to 5 s while above `baseline`, as the daemon closes its side of each
/// connection after reading the client's close.
async fn fds_settled(pid: u32, baseline: u64) -> anyhow::Result<u64> {
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        let fds = proc_sample::sample(pid)
            .context("reading the daemon's /proc")?
            .fds;
        if fds <= baseline || Instant::now() >= give_up {
            return Ok(fds);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What in `summary` looks like a leak.
fn flags(summary: &Summary, rss_growth_percent: f64) -> Vec<String> {
    let mut flags = Vec::new();
    if let (Some(warm), Some(last)) = (summary.rss_kib_after_warmup, summary.rss_kib_last) {
        let limit = warm as f64 * (1.0 + rss_growth_percent / 100.0);
        if last as f64 > limit {
            flags.push(format!(
                "resident memory grew from {warm} KiB after warm-up to {last} KiB, \
                 more than {rss_growth_percent}%"
            ));
        }
    }
    if let (Some(first), Some(closed)) = (summary.fds_first, summary.fds_after_close) {
        if closed > first {
            flags.push(format!(
                "{closed} files open after every session closed, {first} before the soak"
            ));
        }
    }
    flags
}

/// What every session is told to do.
#[derive(Clone)]
struct Plan {
    addr: SocketAddr,
    end: Instant,
    reconnect_secs: f64,
    /// Chance, per frame, of a rollback re-send after it.
    resend: f64,
    /// Chance, per frame, that a gap starts there.
    gap: f64,
}

/// One client for the whole soak: connection after connection, each for
/// a seeded random time, going on through its game where the last left off.
async fn session(
    id: usize,
    plan: Plan,
    game: Game,
    hello: Hello,
    mut rng: StdRng,
    counters: &Counters,
) {
    let mut cursor = 0usize;
    let mut first = true;
    while Instant::now() < plan.end {
        if !first {
            Counters::count(&counters.reconnects, 1);
        }
        first = false;
        let life = plan.reconnect_secs * rng.random_range(0.5..1.5);
        let until = (Instant::now() + Duration::from_secs_f64(life)).min(plan.end);
        let mut link = Link {
            id,
            plan: &plan,
            game: &game,
            rng: &mut rng,
            counters,
            cursor: &mut cursor,
        };
        if let Err(e) = link.connection(hello.clone(), until).await {
            Counters::count(&counters.errors, 1);
            counters.example(format!("session {id}: connection failed: {e:#}"));
            // Not a hot loop against a daemon that refuses.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One connection's worth of a session's state.
struct Link<'a> {
    id: usize,
    plan: &'a Plan,
    game: &'a Game,
    rng: &'a mut StdRng,
    counters: &'a Counters,
    /// Where in the game the session is, kept across connections.
    cursor: &'a mut usize,
}

impl Link<'_> {
    async fn connection(&mut self, hello: Hello, until: Instant) -> anyhow::Result<()> {
        let (mut client, welcome) = Client::handshake(self.plan.addr, hello).await?;
        let mut checker = ReplyChecker::new(welcome.ports.len());
        // This match's frames sent on this connection, as (number, index
        // in the game), newest last, but never the match's first frame: a
        // number at or below it would begin a new match, not roll back.
        let mut recent: VecDeque<(i32, usize)> = VecDeque::with_capacity(ROLLBACK + 1);
        let mut match_first: Option<i32> = None;
        let mut due = Instant::now();
        let result = async {
            while Instant::now() < until {
                let at = *self.cursor;
                *self.cursor = (at + 1) % self.game.len();
                let message = &self.game[at];
                let ClientMessage::Frame(frame) = message else {
                    client.send(message).await?;
                    checker.new_match();
                    recent.clear();
                    match_first = None;
                    continue;
                };
                if self.rng.random_bool(self.plan.gap) {
                    // This frame and up to two more are never sent.
                    let more = self.rng.random_range(0..=2);
                    self.skip(more);
                    Counters::count(&self.counters.gaps, 1);
                    continue;
                }
                tokio::time::sleep_until(due).await;
                due += FRAME;
                client.send(message).await?;
                checker.sent(frame.frame, false);
                let mut owed = 1;
                if *match_first.get_or_insert(frame.frame) != frame.frame {
                    if recent.len() == ROLLBACK {
                        recent.pop_front();
                    }
                    recent.push_back((frame.frame, at));
                }
                if !recent.is_empty() && self.rng.random_bool(self.plan.resend) {
                    let k = self.rng.random_range(1..=recent.len());
                    for &(number, index) in recent.iter().skip(recent.len() - k) {
                        client.send(&self.game[index]).await?;
                        checker.sent(number, true);
                        owed += 1;
                    }
                    Counters::count(&self.counters.resends, k as u64);
                }
                Counters::count(&self.counters.frames, owed);
                for _ in 0..owed {
                    self.read_reply(&mut client, &mut checker).await?;
                }
            }
            anyhow::Ok(())
        }
        .await;
        let result = match result {
            Ok(()) => self.close(client, &mut checker).await,
            Err(e) => Err(e),
        };
        for v in checker.close() {
            self.counters.violation(self.id, &v);
        }
        result
    }

    /// Moves the cursor past up to `n` frames, stopping at anything else.
    fn skip(&mut self, n: usize) {
        for _ in 0..n {
            if !matches!(self.game[*self.cursor], ClientMessage::Frame(_)) {
                return;
            }
            *self.cursor = (*self.cursor + 1) % self.game.len();
        }
    }

    /// Reads one message and judges it as a reply.
    async fn read_reply(
        &self,
        client: &mut Client,
        checker: &mut ReplyChecker,
    ) -> anyhow::Result<()> {
        let message = tokio::time::timeout(REPLY_WAIT, client.read_message())
            .await
            .map_err(|_| anyhow::anyhow!("no reply within {REPLY_WAIT:?}"))??;
        match message {
            Some(ServerMessage::Reply(reply)) => {
                self.take(checker, &reply);
                Ok(())
            }
            Some(other) => bail!("the daemon sent {other:?} where a reply was owed"),
            None => bail!("the daemon closed the connection with replies owed"),
        }
    }

    fn take(&self, checker: &mut ReplyChecker, reply: &fourstock_proto::FrameReply) {
        Counters::count(&self.counters.replies, 1);
        Counters::count(
            &self.counters.late,
            reply.outputs.iter().any(|o| o.fallback) as u64,
        );
        for v in checker.received(reply) {
            self.counters.violation(self.id, &v);
        }
    }

    /// Closes as a client should: shut the sending side, then read to the
    /// end, judging anything more the daemon sends.
    async fn close(&self, mut client: Client, checker: &mut ReplyChecker) -> anyhow::Result<()> {
        client.shutdown().await?;
        let give_up = Instant::now() + REPLY_WAIT;
        loop {
            match tokio::time::timeout_at(give_up, client.read_message()).await {
                Err(_) => bail!("the daemon did not close within {REPLY_WAIT:?} of the client"),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(ServerMessage::Reply(reply)))) => self.take(checker, &reply),
                Ok(Ok(Some(other))) => bail!("the daemon sent {other:?} at the close"),
                Ok(Err(e)) => return Err(e.into()),
            }
        }
    }
}

fn print_reading(r: &Reading, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
    } else {
        println!(
            "{:>7.0} s  rss {:>8} KiB  fds {:>5}  frames {:>10}  replies {:>10}  late {:>6}  \
             violations {:>4}  reconnects {:>6}  errors {:>4}",
            r.seconds,
            r.rss_kib,
            r.fds,
            r.frames,
            r.replies,
            r.late,
            r.violations,
            r.reconnects,
            r.errors
        );
    }
    Ok(())
}

fn print_summary(s: &Summary) {
    let show = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    println!(
        "soak: {} sessions, {:.0} s: {} frames sent ({} re-sent, {} gaps), {} replies, \
         {} late, {} violations, {} reconnects, {} failed connections",
        s.sessions,
        s.seconds,
        s.frames,
        s.resends,
        s.gaps,
        s.replies,
        s.late,
        s.violations,
        s.reconnects,
        s.errors
    );
    println!(
        "daemon RSS KiB: first {}, after warm-up {}, max {}, last {}",
        show(s.rss_kib_first),
        show(s.rss_kib_after_warmup),
        show(s.rss_kib_max),
        show(s.rss_kib_last)
    );
    println!(
        "daemon fds: first {}, max {}, last {}, after every session closed {}",
        show(s.fds_first),
        show(s.fds_max),
        show(s.fds_last),
        show(s.fds_after_close)
    );
    for example in &s.examples {
        println!("  {example}");
    }
    for flag in &s.flags {
        println!("FLAG: {flag}");
    }
}
