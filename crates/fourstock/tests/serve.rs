//! The real `fourstock serve` binary, as the README runs it: it loads the
//! shipped models, answers frames, and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fourstock_tests::client::{within_timeout, TestClient};
use fourstock_tests::fixtures::{frames, FALCO, FOX};

/// Kills the child if the test fails or hangs, so no daemon outlives it.
struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts the daemon on an ephemeral port, serving `models`, and returns it
/// with its address, read from the "listening" log line.
fn start_daemon(models: &std::path::Path) -> (Daemon, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fourstock"))
        .args(["serve", "--listen", "127.0.0.1:0", "--models"])
        .arg(models)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fourstock serve");
    let stderr = child.stderr.take().expect("stderr");
    let (found, address) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("daemon: {line}");
            if let Some(rest) = line.split("addr=").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = found.send(addr);
            }
        }
    });
    let daemon = Daemon { child };
    let addr = address
        .recv_timeout(Duration::from_secs(60))
        .expect("the daemon logs its address within a minute");
    (daemon, addr.parse().expect("a socket address"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_default_model_and_stops_on_sigterm() {
    let (mut daemon, addr) = start_daemon(&repo().join("models"));
    within_timeout(async {
        let (mut client, welcome) = TestClient::handshake(addr, &[(1, FALCO), (2, FOX)]).await;
        for port in &welcome.ports {
            let folder = repo().join("models").join(&port.model);
            assert!(
                folder.join("config.json").is_file(),
                "a shipped model plays: {port:?}"
            );
        }
        for f in frames(-123, 77) {
            let reply = client.frame(&f).await;
            assert_eq!(reply.frame, f.frame);
            assert_eq!(reply.outputs.len(), 2);
        }
    })
    .await;
    let status = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .expect("send SIGTERM");
    assert!(status.success());
    let (done, exited) = mpsc::channel();
    let mut child = std::mem::replace(
        &mut daemon.child,
        Command::new("true").spawn().expect("placeholder"),
    );
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = exited
        .recv_timeout(Duration::from_secs(30))
        .expect("the daemon exits within 30 s of SIGTERM")
        .expect("wait for the daemon");
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}

/// Runs `fourstock ARGS`, killing it if it outlives `limit`.
fn fourstock(args: &[&std::ffi::OsStr], limit: Duration) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_fourstock"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fourstock");
    let id = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(limit) {
        Ok(output) => output.expect("fourstock's output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("fourstock {args:?} ran over {limit:?}");
        }
    }
}

#[test]
fn an_imported_slippi_ai_checkpoint_serves_a_replay_end_to_end() {
    let parity = std::env::var_os("FOURSTOCK_SLIPPI_PARITY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/slippi-ai-parity"));
    let replays = std::env::var_os("FOURSTOCK_REPLAYS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/replays"));
    if !parity.is_dir() || !replays.is_dir() {
        println!(
            "SKIP: slippi-ai import: {} or {} not found",
            parity.display(),
            replays.display()
        );
        return;
    }
    let models = std::env::temp_dir().join(format!("fourstock-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&models);
    let out = models.join("phillip-demo");
    let imported = fourstock(
        &[
            "import".as_ref(),
            "slippi-ai".as_ref(),
            parity.join("checkpoints/jax_demo.pkl").as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
        Duration::from_secs(60),
    );
    assert!(
        imported.status.success(),
        "import: {}",
        String::from_utf8_lossy(&imported.stderr)
    );
    std::fs::write(models.join("index.json"), r#"{"default": "phillip-demo"}"#).unwrap();

    let (_daemon, addr) = start_daemon(&models);
    let replay = replays.join("peppi_game.slp");
    let frames = fourstock_replay::read_replay(&replay)
        .expect("a readable replay")
        .frames()
        .count() as u64;
    let streamed = fourstock(
        &[
            "replay".as_ref(),
            "--fast".as_ref(),
            "--json".as_ref(),
            "--player-name".as_ref(),
            "Diamond Player".as_ref(),
            "--connect".as_ref(),
            addr.to_string().as_ref(),
            replay.as_os_str(),
        ],
        Duration::from_secs(300),
    );
    let stdout = String::from_utf8_lossy(&streamed.stdout);
    assert!(
        streamed.status.success(),
        "replay: {stdout} {}",
        String::from_utf8_lossy(&streamed.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON summary");
    assert_eq!(
        summary["frames"].as_u64(),
        Some(frames),
        "one reply per frame"
    );
    assert_eq!(summary["models"][0], "phillip-demo");
    assert_eq!(summary["player_names"][0], "Diamond Player");
    // slippi-ai resets at a new match only, never at stock loss.
    assert_eq!(summary["resets_reported"].as_u64(), Some(1));

    // A player the checkpoint does not know is refused at the handshake.
    let refused = fourstock(
        &[
            "replay".as_ref(),
            "--fast".as_ref(),
            "--player-name".as_ref(),
            "Nobody".as_ref(),
            "--connect".as_ref(),
            addr.to_string().as_ref(),
            replay.as_os_str(),
        ],
        Duration::from_secs(60),
    );
    let out = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success(), "{out}");
    for needle in ["BadHandshake", "Nobody", "Diamond Player"] {
        assert!(out.contains(needle), "{needle:?} in {out}");
    }
    let _ = std::fs::remove_dir_all(&models);
}
