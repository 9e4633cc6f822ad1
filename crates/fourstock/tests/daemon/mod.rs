//! The real `fourstock` binary for tests: a daemon started on an ephemeral
//! port, and one-shot commands, each killed if it outlives its limit.

#![allow(dead_code)] // Each test binary uses its own part.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Kills the child if the test fails or hangs, so no daemon outlives it.
pub struct Daemon {
    pub child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `fourstock serve` on an ephemeral port, serving `models` with
/// `args` besides, and returns it with its address, read from the
/// "listening" log line.
pub fn start_daemon(models: &Path, args: &[&str]) -> (Daemon, std::net::SocketAddr) {
    start_daemon_on("127.0.0.1:0", models, args)
}

/// [`start_daemon`] listening on `listen`; the address returned is the one
/// the daemon logs.
pub fn start_daemon_on(
    listen: &str,
    models: &Path,
    args: &[&str],
) -> (Daemon, std::net::SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fourstock"));
    command
        .args(["serve", "--listen", listen, "--models"])
        .arg(models)
        .args(args);
    spawn_daemon(command)
}

/// Starts a `fourstock serve` command the caller has set up (its limits,
/// say) and returns it with the address it logs.
pub fn spawn_daemon(mut command: Command) -> (Daemon, std::net::SocketAddr) {
    let mut child = command
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

/// Runs `program ARGS` (the fourstock binary when `program` is `None`),
/// killing it if it outlives `limit`.
pub fn run(
    program: Option<&Path>,
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
    limit: Duration,
) -> std::process::Output {
    let program = program.unwrap_or(Path::new(env!("CARGO_BIN_EXE_fourstock")));
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    let id = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(limit) {
        Ok(output) => output.expect("the command's output"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("{} {args:?} ran over {limit:?}", program.display());
        }
    }
}

/// Runs `fourstock ARGS`, killing it if it outlives `limit`.
pub fn fourstock(args: &[&std::ffi::OsStr], limit: Duration) -> std::process::Output {
    run(None, args, &[], limit)
}
