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

/// Starts the daemon on an ephemeral port and returns it with its address,
/// read from the "listening" log line.
fn start_daemon() -> (Daemon, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fourstock"))
        .args(["serve", "--listen", "127.0.0.1:0", "--models"])
        .arg(repo().join("models"))
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
    let (mut daemon, addr) = start_daemon();
    within_timeout(async {
        let (mut client, welcome) = TestClient::handshake(addr, &[(1, FALCO), (2, FOX)]).await;
        let index = std::fs::read_to_string(repo().join("models/index.json")).unwrap();
        assert!(
            index.contains(&welcome.ports[0].model),
            "the default model plays"
        );
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
