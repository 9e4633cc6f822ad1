//! A model that panics mid-step is a bug, but the arena still gets an
//! `error` naming it and the session ends with that error, never a hang.

use std::os::unix::net::UnixStream;
use std::sync::Arc;

use fourstock_policy::{
    ModelRegistry, Policy, PolicyError, PolicyInfo, PolicyState, ResetRule, StepRequest,
};
use fourstock_proto::ControllerState;
use fourstock_umi::frame::FRAME_SIZE;
use fourstock_umi::{play, wire, BotConfig, UmiError};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

struct Panics(PolicyInfo);

impl Policy for Panics {
    fn info(&self) -> &PolicyInfo {
        &self.0
    }
    fn initial_state(&self, seed: u64) -> PolicyState {
        PolicyState {
            tensors: Vec::new(),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            name_code: None,
            extras: None,
        }
    }
    fn step(&self, _: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
        panic!("the model broke")
    }
}

#[derive(Serialize)]
struct Welcome {
    t: &'static str,
    delay: u32,
    max_games: u32,
    lanes: u32,
    warmups: u32,
    rng_seed: u64,
}

#[derive(Serialize)]
struct Warmup<'a> {
    t: &'static str,
    seq: u64,
    lane: u32,
    #[serde(with = "serde_bytes")]
    games: &'a [u8],
    #[serde(with = "serde_bytes")]
    first: &'a [u8],
    #[serde(with = "serde_bytes")]
    frames: &'a [u8],
}

#[derive(Deserialize)]
struct Reply {
    t: String,
    code: Option<String>,
    msg: Option<String>,
}

fn recv(stream: &mut UnixStream) -> Reply {
    let mut body = Vec::new();
    wire::read_message(stream, &mut body)
        .unwrap()
        .expect("a message");
    rmp_serde::from_slice(&body).unwrap()
}

fn send(stream: &mut UnixStream, message: &impl Serialize) {
    let body = rmp_serde::to_vec_named(message).unwrap();
    wire::write_message(stream, &body, &mut Vec::new()).unwrap();
}

#[test]
fn a_panicking_model_is_reported_to_the_arena() {
    let policy: Arc<dyn Policy> = Arc::new(Panics(PolicyInfo {
        name: "panics".into(),
        cell: "lstm".into(),
        input_size: 1,
        hidden_sizes: vec![1],
        delay: 0,
        reset: ResetRule::default(),
        characters: Vec::new(),
        fixed_cost: true,
    }));
    let registry = ModelRegistry::single(policy);
    let (bot, mut arena) = UnixStream::pair().unwrap();
    arena
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let telemetry = std::sync::Arc::new(fourstock_telemetry::Telemetry::new());
    let counted = telemetry.clone();
    let session = std::thread::spawn(move || {
        let config = BotConfig {
            name: "test".into(),
            model: None,
            telemetry,
        };
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
    // A frame of zeros: Mario against Mario, which the bot can read.
    let mut frame = vec![0u8; FRAME_SIZE];
    frame[21 + 2] = 4; // a stock each
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
