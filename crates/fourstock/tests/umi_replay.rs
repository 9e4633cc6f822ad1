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
use fourstock_umi::frame::ctrl_row;

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
    let umi = arena::rows(&std::fs::read(&rows_file).unwrap());
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

/// The packed layout byte for byte: a frame fourstock writes, read back by
/// umi-melee's own numpy dtype.
#[test]
fn umi_melee_reads_the_frames_fourstock_packs() {
    let Some(python) = python_with_umi() else {
        return;
    };
    use fourstock_proto::{Buttons, Frame, PlayerFrame, StageState};
    let mut me = PlayerFrame::new(2, melee::ICE_CLIMBERS);
    me.x = -31.5;
    me.y = 4.25;
    me.percent = 87.6;
    me.stocks = 3;
    me.shield = 42.5;
    me.action_state = 0x159;
    me.action_frame = -1.0;
    me.jumps_left = 1;
    me.speed_y_attack = -2.5;
    me.facing_right = true;
    me.controller.main_x = 0.125;
    me.controller.r_trigger = 0.5;
    me.controller.buttons = Buttons(Buttons::B | Buttons::D_UP);
    let nana = PlayerFrame {
        follower: true,
        x: 7.0,
        ..PlayerFrame::new(2, melee::ICE_CLIMBERS)
    };
    let fox = PlayerFrame::new(4, 2);
    let frame = Frame {
        frame: 1234,
        stage: melee::YOSHIS_STORY,
        stage_state: StageState {
            randall: [-40.5, 1.5],
            fod_platforms: [0.0, 0.0],
        },
        players: vec![fox, me, nana],
    };
    let work =
        std::env::temp_dir().join(format!("fourstock-umi-layout-{}.bin", std::process::id()));
    std::fs::write(&work, arena::pack(&[frame], 2)).unwrap();
    let script = "import json, sys, numpy as np\n\
        from umi.frame import FRAME\n\
        f = np.fromfile(sys.argv[1], FRAME)[0]\n\
        p, o, n = f['players'][0], f['players'][1], f['nana'][0]\n\
        c = p['controller']\n\
        print(json.dumps([int(f['frame']), int(f['stage']), float(f['randall_x']), float(f['randall_y']),\n\
          int(p['character']), int(p['stocks']), int(p['facing']), int(p['jumps_left']), int(p['action']),\n\
          int(p['action_frame']), int(p['percent']), float(p['x']), float(p['y']), float(p['shield_strength']),\n\
          float(p['speed_y_attack']), float(c['main_x']), float(c['shoulder']), int(c['buttons']),\n\
          int(o['character']), int(n['exists']), int(n['character']), float(n['x']), int(f['nana'][1]['exists'])]))";
    let out = run(
        Some(&python),
        &["-c".as_ref(), script.as_ref(), work.as_os_str()],
        &[],
        Duration::from_secs(60),
    );
    let _ = std::fs::remove_file(&work);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = serde_json::json!([
        1234,
        6,
        -40.5,
        1.5, // frame, Yoshi's Story (internal 6), Randall
        10,
        3,
        1,
        1,
        0x159,
        -1,
        87,
        -31.5,
        4.25,
        42.5,
        -2.5, // Popo (internal 10)
        0.125,
        0.5,
        2 | 128, // B is bit 1, D_UP bit 7
        1,
        1,
        11,
        7.0,
        0 // Fox (internal 1); Nana beside Popo only
    ]);
    assert_eq!(got, expected);
}
