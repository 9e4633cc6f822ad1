//! The same game two ways: one real replay streamed through the TCP daemon
//! (`fourstock replay --out`) and through `fourstock umi`, fed by a Python
//! arena stand-in built on umi-melee (`arena/replay_arena.py`), playing the
//! same port with the shipped default model (argmax decoding).
//!
//! The daemon delays its actions itself (its reply to frame t carries the
//! action computed at t - delay, and neutral for `delay` frames after each
//! reset); a UMI bot leaves the delay to the arena. With that accounted
//! for, every controller must be identical, and the resets must fall on
//! the same frames.
//!
//! Needs `FOURSTOCK_PYTHON`, a Python with `umi-melee` (.ci/run makes one),
//! and the shared replays.

mod arena;
mod daemon;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use daemon::{fourstock, repo, run, start_daemon};
use fourstock_proto::melee;
use fourstock_proto::ControllerState;
use fourstock_replay::{read_replay, replay_files, PlayerKind, Replay};
use fourstock_tests::shared::replays_dir;
use fourstock_umi::frame::{ctrl_row, CTRL_WIDTH};

fn python_with_umi() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("FOURSTOCK_PYTHON").map(PathBuf::from) else {
        println!("SKIP: UMI replay comparison: FOURSTOCK_PYTHON is not set (.ci/run sets it)");
        return None;
    };
    let ok = Command::new(&python)
        .args(["-c", "import umi"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!(
            "SKIP: UMI replay comparison: {} cannot import umi (pip install umi-melee==0.1.0)",
            python.display()
        );
    }
    ok.then_some(python)
}

/// The first replay of two humans on a legal stage with a stock lost.
fn a_replay_with_stock_losses(dir: &Path) -> Option<(PathBuf, Replay)> {
    replay_files(dir).ok()?.into_iter().find_map(|path| {
        let replay = read_replay(&path).ok()?;
        let s = &replay.summary;
        let fits = s.players.len() == 2
            && s.players.iter().all(|p| p.kind == PlayerKind::Human)
            && melee::LEGAL_STAGES.contains(&s.stage.id)
            && !s.stock_losses.is_empty()
            && s.frames < 12_000;
        fits.then_some((path, replay))
    })
}

fn libmelee_name(external: u8) -> &'static str {
    melee::internal_character(external)
        .and_then(melee::libmelee_name)
        .expect("a playable character")
}

#[test]
fn a_replay_plays_the_same_through_the_daemon_and_through_umi() {
    let (Some(python), Some(dir)) = (python_with_umi(), replays_dir("UMI replay comparison"))
    else {
        return;
    };
    let (path, replay) = a_replay_with_stock_losses(&dir).expect("a replay with a stock lost");
    let port = replay.summary.players[0].port;
    let opponent = replay.summary.players[1].character;
    let me = replay.summary.players[0].character;
    let work = std::env::temp_dir().join(format!("fourstock-umi-replay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let frames: Vec<_> = replay.frames().cloned().collect();
    std::fs::write(work.join("frames.bin"), arena::pack(&frames, port)).unwrap();

    // Through the daemon, with a budget no step misses.
    let models = repo().join("models");
    let (_daemon, addr) = start_daemon(&models, &["--budget-us", "1000000"]);
    let out = work.join("daemon.jsonl");
    let streamed = fourstock(
        &[
            "replay".as_ref(),
            "--fast".as_ref(),
            "--port".as_ref(),
            port.to_string().as_ref(),
            "--connect".as_ref(),
            addr.to_string().as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            path.as_os_str(),
        ],
        Duration::from_secs(300),
    );
    assert!(
        streamed.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&streamed.stderr)
    );
    let daemon: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(daemon.len(), frames.len(), "one output per frame");

    // Through UMI.
    let rows_file = work.join("umi.f32");
    let log = work.join("umi.log");
    let bot = env!("CARGO_BIN_EXE_fourstock");
    let script = repo().join("crates/fourstock/tests/arena/replay_arena.py");
    let port_arg = port.to_string();
    let arena = run(
        Some(&python),
        &[
            script.as_os_str(),
            "--frames".as_ref(),
            work.join("frames.bin").as_os_str(),
            "--port".as_ref(),
            port_arg.as_ref(),
            "--character".as_ref(),
            libmelee_name(me).as_ref(),
            "--opponent".as_ref(),
            libmelee_name(opponent).as_ref(),
            "--out".as_ref(),
            rows_file.as_os_str(),
            "--log".as_ref(),
            log.as_os_str(),
            "--".as_ref(),
            bot.as_ref(),
            "umi".as_ref(),
            "--models".as_ref(),
            models.as_os_str(),
        ],
        &[("RUST_LOG", "info,fourstock_umi=debug"), ("NO_COLOR", "1")],
        Duration::from_secs(300),
    );
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        arena.status.success(),
        "arena: {} {}\nbot: {log}",
        String::from_utf8_lossy(&arena.stdout),
        String::from_utf8_lossy(&arena.stderr)
    );
    let umi: Vec<[f32; CTRL_WIDTH]> = std::fs::read(&rows_file)
        .unwrap()
        .chunks_exact(CTRL_WIDTH * 4)
        .map(|row| {
            let mut out = [0.0; CTRL_WIDTH];
            for (v, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                *v = f32::from_le_bytes(b.try_into().unwrap());
            }
            out
        })
        .collect();
    assert_eq!(umi.len(), frames.len());

    // The resets, frame by frame.
    let daemon_resets: BTreeSet<i64> = daemon
        .iter()
        .filter(|o| o["reset"] == true)
        .map(|o| o["frame"].as_i64().unwrap())
        .collect();
    let umi_resets: BTreeSet<i64> = log
        .lines()
        .filter(|l| l.contains(" reset ") && l.contains("game=1"))
        .filter_map(|l| {
            l.split("frame=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        daemon_resets.len() >= 2,
        "a new match and a stock loss: {daemon_resets:?}"
    );
    assert_eq!(
        umi_resets, daemon_resets,
        "the resets fall on the same frames"
    );

    // The controllers, the daemon's `delay` frames later.
    let delay = 6;
    let mut last_reset = 0;
    let mut compared = 0;
    for (i, output) in daemon.iter().enumerate() {
        assert_eq!(output["fallback"], false, "frame {i} met the budget");
        if output["reset"] == true {
            last_reset = i;
        }
        let controller: ControllerState =
            serde_json::from_value(output["controller"].clone()).unwrap();
        let got = ctrl_row(&controller);
        let expected = if i - last_reset >= delay {
            compared += 1;
            umi[i - delay]
        } else {
            ctrl_row(&ControllerState::NEUTRAL)
        };
        assert_eq!(
            got, expected,
            "frame {} (index {i}): the daemon's output against UMI's of {delay} frames before",
            output["frame"]
        );
    }
    assert!(compared > frames.len() / 2, "{compared} compared");
    println!(
        "{}: {} frames, {compared} controllers compared, resets on {daemon_resets:?}",
        path.display(),
        frames.len()
    );
    let _ = std::fs::remove_dir_all(&work);
}
