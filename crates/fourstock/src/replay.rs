//! `fourstock replay`: the emulator stand-in. Streams replays to a running
//! daemon frame by frame, checks every reply, and prints a summary per game.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use fourstock_client::hello;
use fourstock_proto::Hello;

use crate::stream::{connect, port_requests, stream_game, Pacing};

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Replays (.slp) to stream, one game each.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The daemon's address, HOST:PORT (a name such as a compose
    /// service's, or an IP address).
    #[arg(long, default_value = "127.0.0.1:4848")]
    connect: String,
    /// Keep trying to reach the daemon for this many seconds before the
    /// first game, for a client started beside its daemon.
    #[arg(long, default_value_t = 0)]
    wait_secs: u64,
    /// Fail a game whose count of frames with a reset differs from the
    /// replay's: one at the start and one per stock lost (the default
    /// reset rule).
    #[arg(long)]
    expect_resets: bool,
    /// Ports the daemon controls (1 to 4); repeat or comma-separate.
    /// Default: every player in the game.
    #[arg(long = "port", value_delimiter = ',')]
    ports: Vec<u8>,
    /// Ask for this model instead of the daemon's choice.
    #[arg(long)]
    model: Option<String>,
    /// The player a slippi-ai model imitates on every controlled port: a
    /// name of its checkpoint's name map (default: the model's own).
    #[arg(long)]
    player_name: Option<String>,
    /// Send the next frame as soon as the reply arrives, not at 60 fps.
    #[arg(long)]
    fast: bool,
    /// Write every controller output as JSON lines to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print the per-game summaries as JSON lines.
    #[arg(long)]
    json: bool,
    /// The daemon's token, for a daemon beyond loopback: the file it was
    /// given as `fourstock serve --token-file`.
    #[arg(long, env = "FOURSTOCK_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

#[derive(Serialize)]
struct GameSummary {
    file: String,
    frames: u64,
    resets_reported: u64,
    resets_expected: u64,
    late: u64,
    frames_per_second: f64,
    round_trip_us_p50: u64,
    round_trip_us_p99: u64,
    round_trip_us_max: u64,
    models: Vec<String>,
    /// The player each port's model imitates, if it imitates one.
    player_names: Vec<Option<String>>,
}

#[derive(Serialize)]
struct OutputLine<'a> {
    file: &'a str,
    frame: i32,
    #[serde(flatten)]
    output: &'a fourstock_proto::PortOutput,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let token = args
        .token_file
        .as_deref()
        .map(fourstock_proto::token::read_file)
        .transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = match &args.out {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let pacing = if args.fast {
        Pacing::Fast
    } else {
        Pacing::RealTime
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(args.wait_secs);
    let mut failed = 0usize;
    let total = args.files.len();
    for (i, path) in args.files.iter().enumerate() {
        let name = path.display().to_string();
        if total > 1 {
            eprintln!("[{}/{}] {}", i + 1, total, name);
        }
        let result: anyhow::Result<GameSummary> = runtime.block_on(async {
            let replay = fourstock_replay::read_replay(path)?;
            let ports = port_requests(
                &replay.messages,
                &args.ports,
                args.model.as_deref(),
                args.player_name.as_deref(),
            )?;
            let hello = Hello {
                token: token.clone(),
                ..hello(ports)
            };
            let link = connect(&args.connect, deadline).await?;
            let report = stream_game(link, &replay.messages, hello, pacing, out.is_some())
                .await
                .with_context(|| format!("streaming {name}"))?;
            let resets_expected = replay.summary.expected_resets() as u64;
            if args.expect_resets && report.resets != resets_expected {
                anyhow::bail!(
                    "{name}: {} frames with a reset, expected {resets_expected}",
                    report.resets
                );
            }
            if let Some(out) = out.as_mut() {
                for reply in &report.replies {
                    for output in &reply.outputs {
                        let line = OutputLine {
                            file: &name,
                            frame: reply.frame,
                            output,
                        };
                        serde_json::to_writer(&mut *out, &line)?;
                        out.write_all(b"\n")?;
                    }
                }
            }
            let seconds = report.elapsed.as_secs_f64().max(1e-9);
            Ok(GameSummary {
                file: name.clone(),
                frames: report.frames,
                resets_reported: report.resets,
                resets_expected,
                late: report.late,
                frames_per_second: report.frames as f64 / seconds,
                round_trip_us_p50: report.round_trip_us.value_at_percentile(50.0),
                round_trip_us_p99: report.round_trip_us.value_at_percentile(99.0),
                round_trip_us_max: report.round_trip_us.max(),
                models: report
                    .welcome
                    .ports
                    .iter()
                    .map(|p| p.model.clone())
                    .collect(),
                player_names: report
                    .welcome
                    .ports
                    .iter()
                    .map(|p| p.player_name.clone())
                    .collect(),
            })
        });
        match result {
            Ok(summary) if args.json => println!("{}", serde_json::to_string(&summary)?),
            Ok(s) => println!(
                "{}: {} frames, resets {} (expected {}), late {}, {:.0} frames/s, \
                 round trip p50 {} us p99 {} us max {} us, models {:?}, players {:?}",
                s.file,
                s.frames,
                s.resets_reported,
                s.resets_expected,
                s.late,
                s.frames_per_second,
                s.round_trip_us_p50,
                s.round_trip_us_p99,
                s.round_trip_us_max,
                s.models,
                s.player_names
            ),
            Err(e) => {
                failed += 1;
                println!("{name}: error: {e:#}");
            }
        }
    }
    if let Some(mut out) = out {
        out.flush()?;
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {total} replays failed");
    }
    Ok(())
}
