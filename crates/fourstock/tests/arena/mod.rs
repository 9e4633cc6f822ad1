//! A UMI arena for tests: it listens on a Unix socket in a fresh folder,
//! starts the real `fourstock umi` binary against it, and speaks UMI v1 to
//! it message by message, so a test can drive any sequence, legal or not.
//!
//! Every read has a timeout and the bot is killed when the arena drops, so
//! no test hangs and no bot outlives one.

#![allow(dead_code)] // Each test binary uses its own part.

use std::io::{BufRead, BufReader};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fourstock_proto::Frame;
use fourstock_umi::frame::{self, CTRL_WIDTH, FRAME_SIZE};
use fourstock_umi::wire;
use serde::{Deserialize, Serialize};

/// How long any one message or exit may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whatever the bot sends; only the fields of its `t` are set.
#[derive(Debug, Deserialize)]
pub struct Reply {
    pub t: String,
    pub seq: Option<u64>,
    #[serde(default)]
    pub ctrl: Option<serde_bytes::ByteBuf>,
    pub code: Option<String>,
    pub msg: Option<String>,
    pub umi: Option<String>,
    pub characters: Option<String>,
    pub delay: Option<u32>,
    pub deterministic: Option<bool>,
}

impl Reply {
    /// `act`'s controller rows.
    pub fn rows(&self) -> Vec<[f32; CTRL_WIDTH]> {
        rows(self.ctrl.as_ref().expect("an act carries ctrl"))
    }
}

/// Controller rows from their little-endian bytes, as `act` carries them.
pub fn rows(bytes: &[u8]) -> Vec<[f32; CTRL_WIDTH]> {
    assert_eq!(bytes.len() % (CTRL_WIDTH * 4), 0, "whole rows");
    bytes
        .chunks_exact(CTRL_WIDTH * 4)
        .map(|row| {
            let mut out = [0.0; CTRL_WIDTH];
            for (v, b) in out.iter_mut().zip(row.chunks_exact(4)) {
                *v = f32::from_le_bytes(b.try_into().unwrap());
            }
            out
        })
        .collect()
}

#[derive(Serialize)]
pub struct Welcome {
    pub t: &'static str,
    pub delay: u32,
    pub max_games: u32,
    pub lanes: u32,
    pub buckets: Vec<u32>,
    pub info_every: u32,
    pub warmups: u32,
    pub rng_seed: u64,
}

impl Welcome {
    pub fn new(delay: u32, max_games: u32, lanes: u32) -> Welcome {
        Welcome {
            t: "welcome",
            delay,
            max_games,
            lanes,
            buckets: vec![1, max_games / lanes],
            info_every: 6,
            warmups: 2,
            rng_seed: 0,
        }
    }
}

#[derive(Serialize)]
pub struct GameInfo<'a> {
    pub game: u32,
    pub port: u8,
    pub character: &'a str,
    pub opp_character: &'a str,
    pub stage: &'a str,
}

#[derive(Serialize)]
pub struct NewGames<'a> {
    pub t: &'static str,
    pub games: Vec<GameInfo<'a>>,
}

#[derive(Serialize)]
pub struct GameEnd {
    pub game: u32,
    pub result: &'static str,
}

#[derive(Serialize)]
pub struct EndGames {
    pub t: &'static str,
    pub games: Vec<GameEnd>,
}

#[derive(Serialize)]
pub struct Obs<'a> {
    pub t: &'a str,
    pub seq: u64,
    pub lane: u32,
    #[serde(with = "serde_bytes")]
    pub games: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub first: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub frames: &'a [u8],
}

#[derive(Serialize)]
pub struct Tagged {
    pub t: &'static str,
}

/// One bot process and the arena's end of its socket.
pub struct Arena {
    child: Option<Child>,
    conn: UnixStream,
    folder: PathBuf,
    /// The bot's stderr lines so far.
    pub log: Arc<Mutex<Vec<String>>>,
    seq: u64,
}

impl Arena {
    /// Starts `fourstock umi ARGS` against a fresh socket and accepts it.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Arena {
        Arena::launch(&["umi"], args, env)
    }

    /// Starts a bare `fourstock`, as a container's entrypoint does, with
    /// `UMI_SOCKET` set to a fresh socket, and accepts it.
    pub fn start_bare(env: &[(&str, &str)]) -> Arena {
        Arena::launch(&[], &[], env)
    }

    fn launch(command_name: &[&str], args: &[&str], env: &[(&str, &str)]) -> Arena {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let folder = std::env::temp_dir().join(format!("fourstock-umi-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).unwrap();
        let socket = folder.join("umi.sock");
        let listener = UnixListener::bind(&socket).expect("bind the arena socket");
        let mut command = Command::new(env!("CARGO_BIN_EXE_fourstock"));
        command
            .args(command_name)
            .args(args)
            .env("UMI_SOCKET", &socket)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start fourstock umi");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("bot: {line}");
                lines.lock().unwrap().push(line);
            }
        });
        let (accepted, connection) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = accepted.send(listener.accept().map(|(conn, _)| conn));
        });
        let conn = connection
            .recv_timeout(TIMEOUT)
            .expect("the bot connects within the timeout")
            .expect("accept");
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        Arena {
            child: Some(child),
            conn,
            folder,
            log,
            seq: 0,
        }
    }

    /// The shipped models folder.
    pub fn models() -> PathBuf {
        repo().join("models")
    }

    pub fn send(&mut self, message: &impl Serialize) {
        let body = rmp_serde::to_vec_named(message).unwrap();
        self.send_body(&body);
    }

    pub fn send_body(&mut self, body: &[u8]) {
        wire::write_message(&mut self.conn, body, &mut Vec::new()).expect("write to the bot");
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.conn.write_all(bytes).expect("write to the bot");
    }

    pub fn recv(&mut self) -> Reply {
        let mut body = Vec::new();
        match wire::read_message(&mut self.conn, &mut body) {
            Ok(Some(())) => rmp_serde::from_slice(&body).expect("a msgpack map"),
            other => panic!("no message from the bot: {other:?}"),
        }
    }

    /// Reads the hello, welcomes the bot and answers its warmups (two
    /// frames of `warmup`), up to its `ready`. Returns the hello.
    pub fn handshake(&mut self, welcome: &Welcome) -> Reply {
        let hello = self.recv();
        assert_eq!(hello.t, "hello");
        self.send(welcome);
        let warm = frame::write(&fourstock_tests::fixtures::frame(0, [4, 4]), 1).unwrap();
        for k in 0..welcome.warmups {
            let n = 1 + k as usize;
            let frames: Vec<u8> = (0..n).flat_map(|_| warm).collect();
            let games: Vec<u32> = (0..n as u32).map(|g| 1_000_000 + g).collect();
            let act = self.exchange("warmup", 0, &games, &vec![true; n], &frames);
            assert_eq!(act.rows().len(), n);
        }
        assert_eq!(self.recv().t, "ready");
        hello
    }

    pub fn new_games(&mut self, games: &[(u32, &str)]) {
        let games = games
            .iter()
            .map(|&(game, character)| GameInfo {
                game,
                port: 1,
                character,
                opp_character: "FOX",
                stage: "BATTLEFIELD",
            })
            .collect();
        self.send(&NewGames {
            t: "new_games",
            games,
        });
    }

    pub fn end_games(&mut self, games: &[u32]) {
        let games = games
            .iter()
            .map(|&game| GameEnd {
                game,
                result: "void",
            })
            .collect();
        self.send(&EndGames {
            t: "end_games",
            games,
        });
    }

    /// Sends an `obs` (or `kind`) and returns its seq, without waiting.
    pub fn post(
        &mut self,
        kind: &str,
        lane: u32,
        games: &[u32],
        first: &[bool],
        frames: &[u8],
    ) -> u64 {
        self.seq += 1;
        let games: Vec<u8> = games.iter().flat_map(|g| g.to_le_bytes()).collect();
        let first: Vec<u8> = first.iter().map(|&f| f as u8).collect();
        let seq = self.seq;
        self.send(&Obs {
            t: kind,
            seq,
            lane,
            games: &games,
            first: &first,
            frames,
        });
        seq
    }

    /// Sends an `obs` (or `kind`) and returns the bot's `act` for it.
    pub fn exchange(
        &mut self,
        kind: &str,
        lane: u32,
        games: &[u32],
        first: &[bool],
        frames: &[u8],
    ) -> Reply {
        let seq = self.post(kind, lane, games, first, frames);
        let act = self.recv();
        assert_eq!(act.t, "act", "{act:?}");
        assert_eq!(act.seq, Some(seq));
        act
    }

    /// Hangs up on the bot, as an arena that dies would.
    pub fn close(&mut self) {
        let _ = self.conn.shutdown(std::net::Shutdown::Both);
    }

    /// Waits for the bot to exit.
    pub fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("one wait");
        let id = child.id();
        let (done, status) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait());
        });
        match status.recv_timeout(TIMEOUT) {
            Ok(status) => status.expect("the bot's exit status"),
            Err(_) => {
                kill(id);
                panic!("the bot did not exit within {TIMEOUT:?}");
            }
        }
    }

    /// Expects an `error` with `code`, then an exit with code 1.
    pub fn expect_error(&mut self, code: &str) -> String {
        let reply = self.recv();
        assert_eq!(reply.t, "error", "{reply:?}");
        assert_eq!(reply.code.as_deref(), Some(code), "{reply:?}");
        let status = self.wait();
        assert_eq!(status.code(), Some(1), "exit status {status}");
        reply.msg.unwrap_or_default()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// `frames` packed as UMI sends them, each seen from `port`.
pub fn pack(frames: &[Frame], port: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(frames.len() * FRAME_SIZE);
    for f in frames {
        out.extend_from_slice(&frame::write(f, port).expect("the port plays"));
    }
    out
}

/// Writes a models folder holding copies of shipped models, the first the
/// default, each config edited by `edit`.
pub fn models_folder(folder: &Path, models: &[&str], edit: impl Fn(&mut serde_json::Value)) {
    std::fs::create_dir_all(folder).unwrap();
    for name in models {
        let from = Arena::models().join(name);
        let to = folder.join(name);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(from.join("model.safetensors"), to.join("model.safetensors")).unwrap();
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(from.join("config.json")).unwrap()).unwrap();
        edit(&mut config);
        std::fs::write(
            to.join("config.json"),
            serde_json::to_vec_pretty(&config).unwrap(),
        )
        .unwrap();
    }
    std::fs::write(
        folder.join("index.json"),
        format!("{{\"default\": \"{}\"}}", models[0]),
    )
    .unwrap();
}
