//! The libmelee cross-check, against a parser no one here wrote: a replay
//! streamed through libmelee and the Python bridge into the daemon must
//! carry, frame by frame, what fourstock's own peppi path reads from the
//! same file.
//!
//! The stage state is compared too: Randall from libmelee's own formula
//! against fourstock's port of it, and Fountain of Dreams' platforms as
//! each parser reads the replay's events.
//!
//! Needs `FOURSTOCK_PYTHON`, a Python with libmelee (`melee`) installed;
//! .ci/run makes one in a virtual environment. Where libmelee and the .slp
//! events legitimately differ, the field is left out of the comparison and
//! said why in proto/python/fourstock_bridge.py.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fourstock_proto::{decode_client, ClientMessage, Frame};
use fourstock_tests::policies::CountingPolicy;
use fourstock_tests::server::{config, TestServer};
use fourstock_tests::shared::replays_dir;

/// One replay's bridge run may take this long before it is killed.
const BRIDGE_TIMEOUT: Duration = Duration::from_secs(180);
/// libmelee's "cannot read this file" exit code (see the bridge).
const EXIT_UNREADABLE: i32 = 3;

fn python() -> Option<PathBuf> {
    let Some(python) = std::env::var_os("FOURSTOCK_PYTHON").map(PathBuf::from) else {
        println!("SKIP: libmelee cross-check: FOURSTOCK_PYTHON is not set (.ci/run sets it)");
        return None;
    };
    let ok = Command::new(&python)
        .args(["-c", "import melee"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!(
            "SKIP: libmelee cross-check: {} cannot import melee",
            python.display()
        );
        return None;
    }
    Some(python)
}

fn bridge() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto/python/fourstock_bridge.py")
}

/// Runs the bridge on one replay; `None` when libmelee cannot read it.
fn run_bridge(
    python: &Path,
    replay: &Path,
    addr: std::net::SocketAddr,
    dump: &Path,
) -> Option<Vec<Frame>> {
    let mut child = Command::new(python)
        .arg(bridge())
        .args([
            "replay",
            "--daemon",
            &addr.to_string(),
            "--port",
            "1",
            "--port",
            "2",
            "--port",
            "3",
            "--port",
            "4",
            "--dump",
        ])
        .arg(dump)
        .arg(replay)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the bridge");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the bridge") {
            break status;
        }
        if started.elapsed() > BRIDGE_TIMEOUT {
            let _ = child.kill();
            panic!(
                "{}: the bridge hung for {BRIDGE_TIMEOUT:?}",
                replay.display()
            );
        }
        // Polling a child process; nothing here waits on the daemon.
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .ok();
    if status.code() == Some(EXIT_UNREADABLE) {
        println!(
            "libmelee cannot read {}: {}",
            replay.display(),
            stderr.trim()
        );
        return None;
    }
    assert!(
        status.success(),
        "{}: bridge failed: {stderr}",
        replay.display()
    );
    let text = std::fs::read_to_string(dump).expect("the bridge's dump");
    Some(
        text.lines()
            .map(|line| {
                let row: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                let hex = row["payload"].as_str().expect("payload");
                let bytes: Vec<u8> = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                    .collect();
                // Exactly what the daemon received and accepted.
                match decode_client(&bytes).expect("the daemon's decoder accepts it") {
                    ClientMessage::Frame(frame) => frame,
                    other => panic!("dumped a non-frame: {other:?}"),
                }
            })
            .collect(),
    )
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-3 * (1.0 + a.abs().max(b.abs()))
}

/// Compares one frame field by field; returns the first difference.
fn compare(melee: &Frame, peppi: &Frame) -> Result<(), String> {
    if melee.frame != peppi.frame {
        return Err(format!("frame number {} vs {}", melee.frame, peppi.frame));
    }
    // libmelee's stage table here covers the legal stages only.
    if melee.stage != 0 && melee.stage != peppi.stage {
        return Err(format!("stage {} vs {}", melee.stage, peppi.stage));
    }
    // Randall: libmelee's formula against fourstock's port of it; the
    // platforms: libmelee's and peppi's reading of the same events.
    let (m, p) = (&melee.stage_state, &peppi.stage_state);
    let stage_checks = [
        ("randall x", m.randall[0], p.randall[0]),
        ("randall y", m.randall[1], p.randall[1]),
        ("fod_platforms left", m.fod_platforms[0], p.fod_platforms[0]),
        (
            "fod_platforms right",
            m.fod_platforms[1],
            p.fod_platforms[1],
        ),
    ];
    for (field, a, b) in stage_checks {
        // Both round the same f64 (or carry the same f32): exactly equal.
        if a != b {
            return Err(format!("stage_state {field}: libmelee {a} vs peppi {b}"));
        }
    }
    for p in peppi.players.iter().filter(|p| !p.follower) {
        let Some(m) = melee.player(p.port) else {
            return Err(format!("port {} missing from libmelee", p.port));
        };
        let checks = [
            ("character", m.character as f32, p.character as f32),
            ("action_state", m.action_state as f32, p.action_state as f32),
            ("x", m.x, p.x),
            ("y", m.y, p.y),
            ("percent", m.percent, p.percent),
            ("stocks", m.stocks as f32, p.stocks as f32),
        ];
        for (field, a, b) in checks {
            if !close(a, b) {
                return Err(format!(
                    "port {} {field}: libmelee {a} vs peppi {b}",
                    p.port
                ));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libmelee_and_peppi_agree_on_what_the_daemon_receives() {
    let (Some(python), Some(dir)) = (python(), replays_dir("libmelee cross-check")) else {
        return;
    };
    let server = TestServer::with_policy(CountingPolicy::new("c").into_arc(), config(1000)).await;
    let scratch = std::env::temp_dir().join(format!("fourstock-libmelee-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let files: Vec<PathBuf> = fourstock_replay::replay_files(&dir)
        .unwrap()
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            name.starts_with("libmelee_") || name.starts_with("peppi_")
        })
        .collect();
    let (mut agreed, mut unreadable, mut frames_checked) = (0, 0, 0usize);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(replay) = fourstock_replay::read_replay(file) else {
            continue; // the corrupt ones: the replay tests cover their errors
        };
        let addr = server.addr;
        let (python, file2, dump) = (
            python.clone(),
            file.clone(),
            scratch.join(format!("{name}.jsonl")),
        );
        let sent = tokio::task::spawn_blocking(move || run_bridge(&python, &file2, addr, &dump))
            .await
            .unwrap();
        let Some(sent) = sent else {
            unreadable += 1;
            continue;
        };
        let ours: HashMap<i32, &Frame> = replay.frames().map(|f| (f.frame, f)).collect();
        assert!(!sent.is_empty(), "{name}: libmelee sent no frames");
        // Rollback re-sends: the last copy of each frame number is the true one.
        let mut last: HashMap<i32, &Frame> = HashMap::new();
        for frame in &sent {
            last.insert(frame.frame, frame);
        }
        let mut sent: Vec<&Frame> = last.into_values().collect();
        sent.sort_by_key(|f| f.frame);
        let mut missing = 0;
        for frame in &sent {
            match ours.get(&frame.frame) {
                Some(peppi) => {
                    if let Err(difference) = compare(frame, peppi) {
                        panic!("{name} frame {}: {difference}", frame.frame);
                    }
                }
                None => missing += 1,
            }
        }
        assert_eq!(
            missing, 0,
            "{name}: frames libmelee sent that peppi does not have"
        );
        // libmelee stops at the last in-game frame; it may skip a few at the edges.
        assert!(
            sent.len() + 5 >= ours.len(),
            "{name}: libmelee sent {} frames, peppi read {}",
            sent.len(),
            ours.len()
        );
        agreed += 1;
        frames_checked += sent.len();
    }
    println!("libmelee cross-check: {agreed} replays agree ({frames_checked} frames), {unreadable} unreadable by libmelee");
    assert!(agreed >= 10, "too few replays cross-checked: {agreed}");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&scratch);
}
