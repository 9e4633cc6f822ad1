//! `fourstock inspect`: what a replay holds, one summary per file, as text
//! or as JSON lines. A bad file is reported and skipped; the command fails
//! at the end if any file could not be read.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use fourstock_replay::{read_replay, replay_files, PlayerKind, ReplaySummary};

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Replays (.slp) to summarize; a folder stands for the .slp files in it.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON object per line (a bad file is `{"file", "error"}`).
    #[arg(long)]
    json: bool,
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for path in args.files {
        if path.is_dir() {
            files.extend(replay_files(&path)?);
        } else {
            files.push(path);
        }
    }

    let mut out = std::io::stdout().lock();
    let mut failed = 0usize;
    for path in &files {
        match read_replay(path) {
            Ok(replay) if args.json => {
                writeln!(out, "{}", serde_json::to_string(&replay.summary)?)?;
            }
            Ok(replay) => writeln!(out, "{}", describe(&replay.summary))?,
            Err(error) => {
                failed += 1;
                if args.json {
                    let line = serde_json::json!({
                        "file": path.display().to_string(),
                        "error": error.to_string(),
                    });
                    writeln!(out, "{line}")?;
                } else {
                    out.flush()?;
                    eprintln!("error: {error}\n");
                }
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        anyhow::bail!("{failed} of {} replays could not be read", files.len());
    }
    Ok(())
}

/// A summary as a few readable lines.
fn describe(s: &ReplaySummary) -> String {
    let mut text = String::new();
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let _ = writeln!(text, "{}", s.file);
    let _ = writeln!(
        text,
        "  Slippi {}, {} ({}), {}",
        s.slippi_version,
        s.stage.name,
        s.stage.id,
        if s.stage.legal {
            "legal stage"
        } else {
            "not a legal stage"
        }
    );
    for p in &s.players {
        let code = p
            .connect_code
            .as_ref()
            .map(|c| format!(", {c}"))
            .unwrap_or_default();
        let kind = match p.kind {
            PlayerKind::Human => "human",
            PlayerKind::Cpu => "CPU",
            PlayerKind::Demo => "demo",
        };
        let _ = writeln!(
            text,
            "  P{} {} ({}), {kind}, {} stocks{code}",
            p.port, p.character_name, p.character, p.start_stocks
        );
    }
    let span = match (s.first_frame, s.last_frame) {
        (Some(first), Some(last)) => format!(" ({first} to {last})"),
        _ => String::new(),
    };
    let _ = writeln!(
        text,
        "  {} frames{span}, {:.1} s; {} rollback frames dropped",
        s.frames, s.duration_seconds, s.rollback_frames_dropped
    );
    if s.stock_losses.is_empty() {
        let _ = writeln!(text, "  no stock lost");
    } else {
        let losses: Vec<String> = s
            .stock_losses
            .iter()
            .map(|l| format!("P{} to {} @ {}", l.port, l.stocks_left, l.frame))
            .collect();
        let _ = writeln!(text, "  stock losses: {}", losses.join(", "));
    }
    let _ = writeln!(text, "  resets expected: {}", s.expected_resets());
    let end = match &s.end {
        Some(end) => {
            let quit = end
                .quit_by_port
                .map(|p| format!(", P{p} quit"))
                .unwrap_or_default();
            format!("{} ({}){quit}", end.name, end.method)
        }
        None => "no game-end event".to_string(),
    };
    let _ = writeln!(text, "  ended: {end}");
    let pal = s.pal.map_or("unknown", yes_no);
    let _ = writeln!(
        text,
        "  items {}, timer {} s, PAL {pal}",
        if s.items { "on" } else { "off" },
        s.timer_seconds
    );
    if s.ruleset.competitive {
        let _ = write!(text, "  competitive ruleset: yes");
    } else {
        let _ = write!(
            text,
            "  competitive ruleset: no ({})",
            s.ruleset.reasons.join("; ")
        );
    }
    text
}
