//! An arena that goes silent, or stops reading, ends the session with a
//! `stalled` error the log and the arena can read; the bot never hangs
//! with its container.

mod arena;

use std::os::unix::net::UnixStream;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use arena::{frame, info, recv, send, Idle, Warmup, Welcome};
use fourstock_policy::{ModelRegistry, Policy};
use fourstock_telemetry::Telemetry;
use fourstock_umi::{play, BotConfig, UmiError};

/// How long a test waits for `play` to return before calling it hung.
const HUNG: Duration = Duration::from_secs(60);

/// Runs `play` on its own thread with `config`; the receiver gets what it
/// returned.
fn start(bot: UnixStream, config: BotConfig) -> mpsc::Receiver<Result<(), UmiError>> {
    let (ended, result) = mpsc::channel();
    std::thread::spawn(move || {
        let policy: Arc<dyn Policy> = Arc::new(Idle(info("idle")));
        let registry = ModelRegistry::single(policy);
        let _ = ended.send(play(bot, &registry, &config));
    });
    result
}

#[test]
fn an_arena_that_goes_silent_ends_the_session() {
    let (bot, mut arena) = UnixStream::pair().unwrap();
    arena.set_read_timeout(Some(HUNG)).unwrap();
    let config = BotConfig {
        silence_limit: Duration::from_millis(300),
        ..BotConfig::new("test", Arc::new(Telemetry::new()))
    };
    let ended = start(bot, config);
    assert_eq!(recv(&mut arena).t, "hello");
    // No welcome, ever.
    let reply = recv(&mut arena);
    assert_eq!(
        (reply.t.as_str(), reply.code.as_deref()),
        ("error", Some("stalled"))
    );
    let ended = ended.recv_timeout(HUNG).expect("play returned");
    match ended {
        Err(UmiError::Stalled(why)) => assert!(why.contains("sent nothing"), "{why}"),
        other => panic!("expected Stalled, got {other:?}"),
    }
}

#[test]
fn an_arena_that_stops_reading_ends_the_session() {
    let (bot, mut arena) = UnixStream::pair().unwrap();
    // A small send buffer fills after a few replies.
    socket2::SockRef::from(&bot)
        .set_send_buffer_size(4096)
        .unwrap();
    arena.set_read_timeout(Some(HUNG)).unwrap();
    let config = BotConfig {
        write_timeout: Duration::from_millis(300),
        ..BotConfig::new("test", Arc::new(Telemetry::new()))
    };
    let ended = start(bot, config);
    assert_eq!(recv(&mut arena).t, "hello");
    let warmups = 100_000;
    send(
        &mut arena,
        &Welcome {
            t: "welcome",
            delay: 0,
            max_games: 1,
            lanes: 1,
            warmups,
            rng_seed: 0,
        },
    );
    // Warmups, each answered with an act that the arena never reads,
    // until the bot gives up and closes the socket.
    let frame = frame();
    let mut writer = arena.try_clone().unwrap();
    writer.set_write_timeout(Some(HUNG)).unwrap();
    std::thread::spawn(move || {
        for seq in 1..=warmups as u64 {
            let warmup = Warmup {
                t: "warmup",
                seq,
                lane: 0,
                games: &7u32.to_le_bytes(),
                first: &[1],
                frames: &frame,
            };
            let body = rmp_serde::to_vec_named(&warmup).unwrap();
            if fourstock_umi::wire::write_message(&mut writer, &body, &mut Vec::new()).is_err() {
                return;
            }
        }
    });
    let ended = ended.recv_timeout(HUNG).expect("play returned");
    match ended {
        Err(UmiError::Stalled(why)) => assert!(why.contains("read nothing"), "{why}"),
        other => panic!("expected Stalled, got {other:?}"),
    }
}
