//! The arena's side of the wire, as the tests play it: the messages they
//! send and read, and a policy that always answers.

// Each test file uses its own part of this.
#![allow(dead_code)]

use std::os::unix::net::UnixStream;

use fourstock_policy::{Policy, PolicyError, PolicyInfo, PolicyState, ResetRule, StepRequest};
use fourstock_proto::ControllerState;
use fourstock_umi::frame::FRAME_SIZE;
use fourstock_umi::wire;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

#[derive(Serialize)]
pub struct Welcome {
    pub t: &'static str,
    pub delay: u32,
    pub max_games: u32,
    pub lanes: u32,
    pub warmups: u32,
    pub rng_seed: u64,
}

#[derive(Serialize)]
pub struct Warmup<'a> {
    pub t: &'static str,
    pub seq: u64,
    pub lane: u32,
    #[serde(with = "serde_bytes")]
    pub games: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub first: &'a [u8],
    #[serde(with = "serde_bytes")]
    pub frames: &'a [u8],
}

#[derive(Deserialize)]
pub struct Reply {
    pub t: String,
    pub code: Option<String>,
    pub msg: Option<String>,
}

pub fn recv(stream: &mut UnixStream) -> Reply {
    let mut body = Vec::new();
    wire::read_message(stream, &mut body)
        .unwrap()
        .expect("a message");
    rmp_serde::from_slice(&body).unwrap()
}

pub fn send(stream: &mut UnixStream, message: &impl Serialize) {
    let body = rmp_serde::to_vec_named(message).unwrap();
    wire::write_message(stream, &body, &mut Vec::new()).unwrap();
}

/// A frame of zeros the bot can read: Mario against Mario, a stock each.
pub fn frame() -> Vec<u8> {
    let mut frame = vec![0u8; FRAME_SIZE];
    frame[21 + 2] = 4;
    frame
}

/// The policy's info, named `name`.
pub fn info(name: &str) -> PolicyInfo {
    PolicyInfo {
        name: name.into(),
        cell: "lstm".into(),
        input_size: 1,
        hidden_sizes: vec![1],
        delay: 0,
        reset: ResetRule::default(),
        characters: Vec::new(),
        fixed_cost: true,
    }
}

/// A state with nothing in it.
pub fn empty_state(seed: u64) -> PolicyState {
    PolicyState {
        tensors: Vec::new(),
        rng: rand::rngs::StdRng::seed_from_u64(seed),
        name_code: None,
        extras: None,
    }
}

/// Presses nothing, every frame.
pub struct Idle(pub PolicyInfo);

impl Policy for Idle {
    fn info(&self) -> &PolicyInfo {
        &self.0
    }
    fn initial_state(&self, seed: u64) -> PolicyState {
        empty_state(seed)
    }
    fn step(&self, requests: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
        Ok(vec![ControllerState::NEUTRAL; requests.len()])
    }
}
