//! A model that panics mid-step is a bug, but the arena still gets an
//! `error` naming it and the session ends with that error, never a hang.

mod arena;

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use arena::{empty_state, frame, info, recv, send, Warmup, Welcome};
use fourstock_policy::{ModelRegistry, Policy, PolicyError, PolicyInfo, PolicyState, StepRequest};
use fourstock_proto::ControllerState;
use fourstock_umi::{play, BotConfig, UmiError};

struct Panics(PolicyInfo);

impl Policy for Panics {
    fn info(&self) -> &PolicyInfo {
        &self.0
    }
    fn initial_state(&self, seed: u64) -> PolicyState {
        empty_state(seed)
    }
    fn step(&self, _: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
        panic!("the model broke")
    }
}

#[test]
fn a_panicking_model_is_reported_to_the_arena() {
    let policy: Arc<dyn Policy> = Arc::new(Panics(info("panics")));
    let registry = ModelRegistry::single(policy);
    let (bot, mut arena) = UnixStream::pair().unwrap();
    arena
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let telemetry = std::sync::Arc::new(fourstock_telemetry::Telemetry::new());
    let counted = telemetry.clone();
    let session = std::thread::spawn(move || {
        let config = BotConfig::new("test", telemetry);
        play(bot, &registry, &config)
    });
    assert_eq!(recv(&mut arena).t, "hello");
    send(
        &mut arena,
        &Welcome {
            t: "welcome",
            delay: 0,
            max_games: 2,
            lanes: 1,
            warmups: 1,
            rng_seed: 0,
        },
    );
    let frame = frame();
    send(
        &mut arena,
        &Warmup {
            t: "warmup",
            seq: 1,
            lane: 0,
            games: &7u32.to_le_bytes(),
            first: &[1],
            frames: &frame,
        },
    );
    let reply = recv(&mut arena);
    assert_eq!(
        (reply.t.as_str(), reply.code.as_deref()),
        ("error", Some("internal"))
    );
    assert!(reply.msg.unwrap().contains("the model broke"));
    let ended = session.join().expect("play returns, it does not panic");
    assert!(
        matches!(ended, Err(UmiError::Internal { lane: 0, .. })),
        "{ended:?}"
    );
    // The operator's figures count the error the arena was sent.
    let figures = counted.encode();
    assert!(
        figures
            .lines()
            .any(|l| l == "fourstock_errors_total{code=\"internal\"} 1"),
        "{figures}"
    );
}
