//! The real `fourstock serve` binary, as the README runs it: it loads the
//! shipped models, answers frames, and exits cleanly on SIGTERM.

use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

mod daemon;

use daemon::{fourstock, repo, run, spawn_daemon, start_daemon, start_daemon_on};
use fourstock_tests::client::{within_timeout, TestClient};
use fourstock_tests::fixtures::{frames, FALCO, FOX};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_default_model_and_stops_on_sigterm() {
    let (mut daemon, addr) = start_daemon(&repo().join("models"), &[]);
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

    let (_daemon, addr) = start_daemon(&models, &[]);
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

/// One thread's name, scheduling policy and nice value, from /proc.
fn thread_scheduling(pid: u32) -> Vec<(String, u32, i32)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the daemon's threads") {
        let path = task.expect("a thread").path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue; // it ended meanwhile
        };
        let (head, rest) = stat.rsplit_once(')').expect("stat has a name");
        let name = head.split_once('(').expect("stat has a name").1.to_string();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // Fields 19 (nice) and 41 (policy), counted from 1 with the state at 3.
        let nice = fields[16].parse().expect("nice");
        let policy = fields[38].parse().expect("policy");
        threads.push((name, policy, nice));
    }
    threads
}

/// Whether this process may make a thread real-time: tried on a thread of
/// its own, which then exits.
fn realtime_allowed() -> bool {
    std::thread::spawn(|| {
        let param = libc::sched_param { sched_priority: 1 };
        // SAFETY: reads one sched_param; 0 is this short-lived thread.
        unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 }
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realtime_priority_raises_io_threads_above_compute_threads() {
    let (daemon, addr) = start_daemon(
        &repo().join("models"),
        &["--realtime-priority", "--compute-threads", "2"],
    );
    // It serves as ever.
    within_timeout(async {
        let (mut client, _) = TestClient::handshake(addr, &[(1, FALCO), (2, FOX)]).await;
        for f in frames(-123, 10) {
            assert_eq!(client.frame(&f).await.outputs.len(), 2);
        }
    })
    .await;
    let threads = thread_scheduling(daemon.child.id());
    let io: Vec<_> = threads.iter().filter(|t| t.0 == "fourstock-io").collect();
    let compute: Vec<_> = threads
        .iter()
        .filter(|t| t.0.starts_with("fourstock-comp"))
        .collect();
    assert!(!io.is_empty() && compute.len() == 2, "threads: {threads:?}");
    const SCHED_OTHER: u32 = 0;
    const SCHED_FIFO: u32 = 1;
    if realtime_allowed() {
        for t in &io {
            assert_eq!(
                t.1, SCHED_FIFO,
                "an I/O thread is not real-time: {threads:?}"
            );
        }
        for t in &compute {
            assert_eq!(
                (t.1, t.2),
                (SCHED_OTHER, -10),
                "a compute thread: {threads:?}"
            );
        }
    } else {
        println!("real-time scheduling is not allowed here: checking the daemon serves at normal priority");
        for t in io.iter().chain(&compute) {
            assert_eq!(t.1, SCHED_OTHER, "{threads:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_loopback_the_binary_asks_for_a_token() {
    let models = repo().join("models");
    // No token, 0.0.0.0: the daemon refuses to start, saying what to do.
    let refused = run(
        None,
        &[
            "serve".as_ref(),
            "--listen".as_ref(),
            "0.0.0.0:0".as_ref(),
            "--models".as_ref(),
            models.as_os_str(),
        ],
        &[("RUST_LOG", "warn")],
        Duration::from_secs(60),
    );
    assert!(!refused.status.success(), "refused: {:?}", refused.status);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("--token-file"), "{said}");
    assert!(said.contains("--insecure-no-auth"), "{said}");

    // With a token file: it starts, and only the token opens a session.
    let dir = std::env::temp_dir().join(format!("fourstock-serve-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, "s3cret-for-the-ladder\n").unwrap();
    let (_daemon, addr) = start_daemon_on(
        "0.0.0.0:0",
        &models,
        &["--token-file", file.to_str().unwrap()],
    );
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()));
    within_timeout(async {
        let mut client = TestClient::connect(addr).await;
        client
            .send(&fourstock_proto::ClientMessage::Hello(
                fourstock_tests::client::hello(&[(1, FOX)]),
            ))
            .await;
        client
            .expect_error(fourstock_proto::ErrorCode::Unauthorized)
            .await;
        let mut hello = fourstock_tests::client::hello(&[(1, FOX)]);
        hello.token = Some("s3cret-for-the-ladder".into());
        let mut client = TestClient::connect(addr).await;
        client.hello(hello).await;
        for f in frames(-123, -113) {
            assert_eq!(client.frame(&f).await.frame, f.frame);
        }
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replay_reaches_a_daemon_by_name_and_checks_its_resets() {
    let replays = std::env::var_os("FOURSTOCK_REPLAYS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/replays"));
    let game = replays.join(
        "Walnut356_py-slippi_Modern_Replays_FITZ_433_Fox_vs_NUT_356_Falco_on_FoD_-_12-21-22_11.38pm.slp",
    );
    if !game.is_file() {
        println!("SKIP: replay --expect-resets: {} not found", game.display());
        return;
    }
    // The shipped models reset at every stock loss: the counts agree.
    let (_daemon, addr) = start_daemon(&repo().join("models"), &[]);
    let target = format!("localhost:{}", addr.port());
    let args = |target: &str| {
        vec![
            "replay".into(),
            "--connect".into(),
            target.into(),
            "--expect-resets".into(),
            "--fast".into(),
            "--json".into(),
            game.clone().into_os_string(),
        ]
    };
    let streamed = run_args(&args(&target));
    assert!(streamed.status.success(), "{streamed:?}");
    let summary: serde_json::Value =
        serde_json::from_slice(&streamed.stdout).expect("one JSON summary");
    assert_eq!(summary["resets_reported"], summary["resets_expected"]);
    assert!(
        summary["resets_expected"].as_u64().unwrap() > 1,
        "{summary}"
    );

    // A model that resets only at a new match: --expect-resets fails the game.
    let models = std::env::temp_dir().join(format!("fourstock-resets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&models);
    let model = models.join("match-only");
    std::fs::create_dir_all(&model).unwrap();
    let shipped = repo().join("models/generic-lstm");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shipped.join("config.json")).unwrap()).unwrap();
    config["name"] = "match-only".into();
    config["reset"]["stock_loss"] = false.into();
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();
    std::fs::copy(
        shipped.join("model.safetensors"),
        model.join("model.safetensors"),
    )
    .unwrap();
    std::fs::write(models.join("index.json"), r#"{"default": "match-only"}"#).unwrap();
    let (_daemon, addr) = start_daemon(&models, &[]);
    let streamed = run_args(&args(&addr.to_string()));
    assert!(!streamed.status.success(), "{streamed:?}");
    let said = String::from_utf8_lossy(&streamed.stdout);
    assert!(said.contains("with a reset, expected"), "{said}");
    std::fs::remove_dir_all(&models).unwrap();
}

fn run_args(args: &[std::ffi::OsString]) -> std::process::Output {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    fourstock(&args, Duration::from_secs(120))
}

/// The open-file limit of a running process, soft and hard, from /proc.
fn open_files_limit(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .expect("a Max open files line");
    let mut fields = line["Max open files".len()..].split_whitespace();
    let soft = fields.next().expect("soft").to_string();
    let hard = fields.next().expect("hard").to_string();
    (soft, hard)
}

#[test]
fn the_daemon_raises_its_open_file_limit_to_the_hard_limit() {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_fourstock"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--models"])
        .arg(repo().join("models"));
    // SAFETY: the closure only calls getrlimit and setrlimit, which are
    // async-signal-safe, between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            limit.rlim_cur = limit.rlim_max.min(256);
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (daemon, _) = spawn_daemon(command);
    let (soft, hard) = open_files_limit(daemon.child.id());
    assert_eq!(soft, hard, "the soft limit was left at {soft}");
}
