//! Shared pieces of the training tests: a tiny config, synthetic games
//! whose controller follows the game state, and a check that a trained
//! policy serves through a real daemon exactly as it steps locally.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::Arc;

use fourstock_policy::{Policy, StepRequest};
use fourstock_proto::{
    Buttons, ClientMessage, ControllerState, Frame, MatchStart, PlayerInfo, StageState,
};
use fourstock_recurrent::{head, CellKind, Decoding, FeatureConfig, PolicyConfig, RecurrentPolicy};
use fourstock_tests::client::{within_timeout, TestClient};
use fourstock_tests::fixtures::{player, BATTLEFIELD, FALCO, FOX};
use fourstock_tests::server::{config, TestServer};
use fourstock_train::Sequence;

pub fn tiny_config(
    name: &str,
    hidden: Vec<usize>,
    delay: u32,
    characters: Vec<u8>,
) -> PolicyConfig {
    PolicyConfig {
        name: name.into(),
        description: "test".into(),
        trained: true,
        cell: CellKind::Lstm,
        hidden_sizes: hidden,
        features: FeatureConfig::default(),
        delay,
        reset: Default::default(),
        decoding: Decoding::Argmax,
        characters,
    }
}

/// A made-up game: Falco on port 1, Fox on port 2. Each player's action
/// state cycles with period 9 (shifted per port), and the controller is a
/// function of it: A on phase 0, the main stick right on phases 3..6, the
/// shoulder half pressed on phase 7. Port 2 loses a stock at frame `loss`.
pub fn synthetic_game(frames: i32, shift: i32, loss: i32) -> Vec<ClientMessage> {
    let mut messages = vec![ClientMessage::MatchStart(MatchStart {
        stage: BATTLEFIELD,
        players: vec![
            PlayerInfo {
                port: 1,
                character: FALCO,
            },
            PlayerInfo {
                port: 2,
                character: FOX,
            },
        ],
    })];
    for n in -123..frames - 123 {
        let mut players = Vec::new();
        for (port, character) in [(1u8, FALCO), (2u8, FOX)] {
            let stocks = if port == 2 && n >= loss { 3 } else { 4 };
            let mut p = player(port, character, n, stocks);
            let phase = (n + shift + port as i32 * 4).rem_euclid(9);
            p.action_state = 14 + phase as u16;
            p.controller = ControllerState {
                buttons: Buttons(if phase == 0 { Buttons::A } else { 0 }),
                main_x: if (3..6).contains(&phase) { 1.0 } else { 0.5 },
                main_y: 0.5,
                c_x: 0.5,
                c_y: 0.5,
                l_trigger: if phase == 7 { 0.5 } else { 0.0 },
                r_trigger: 0.0,
            };
            players.push(p);
        }
        messages.push(ClientMessage::Frame(Frame {
            frame: n,
            stage: BATTLEFIELD,
            stage_state: StageState::NONE,
            players,
        }));
    }
    messages
}

/// Both ports' sequences of `games` synthetic games.
pub fn synthetic_sequences(games: usize, frames: i32, config: &PolicyConfig) -> Vec<Sequence> {
    let mut sequences = Vec::new();
    for g in 0..games {
        let messages = synthetic_game(frames, g as i32, 200 + 37 * g as i32);
        for (port, character) in [(1, FALCO), (2, FOX)] {
            sequences.push(Sequence::new(
                format!("synthetic-{g}"),
                port,
                character,
                &messages,
                config.delay,
                config.reset,
            ));
        }
    }
    sequences
}

/// Streams `messages` to a daemon serving `policy` for `port` and checks
/// every reply against the policy stepped locally with the daemon's rules
/// (resets where `sequence` says, the delay queue): the trained policy is
/// served unchanged, and training's resets are the daemon's.
pub async fn serves_as_stepped_locally(
    policy: RecurrentPolicy,
    messages: &[ClientMessage],
    sequence: &Sequence,
    frames: usize,
) {
    let policy = Arc::new(policy);
    let local = policy.clone();
    within_timeout(async move {
        let server = TestServer::with_policy(policy, config(1000)).await;
        let (mut client, welcome) =
            TestClient::handshake(server.addr, &[(sequence.port, sequence.character)]).await;
        assert_eq!(welcome.ports[0].model, local.info().name);
        assert_eq!(welcome.ports[0].delay, local.info().delay);
        let delay = local.info().delay as usize;
        let mut state = local.initial_state(0);
        let mut queue = VecDeque::new();
        let mut t = 0;
        for message in messages {
            let ClientMessage::Frame(frame) = message else {
                client.send(message).await;
                continue;
            };
            if t == frames.min(sequence.len()) {
                break;
            }
            assert_eq!(frame, sequence.frame(t), "the sequence steps every frame");
            let reply = client.frame(frame).await;
            let out = &reply.outputs[0];
            assert_eq!(
                out.reset,
                sequence.reset(t),
                "reset on frame {}",
                frame.frame
            );
            assert!(!out.fallback, "no fallback within a 1 s budget");
            if sequence.reset(t) {
                state = local.initial_state(0);
                queue.clear();
            }
            let mut request = [StepRequest {
                frame,
                port: sequence.port,
                state: &mut state,
            }];
            let logits = local
                .step_logits(&mut request)
                .unwrap()
                .to_vec2::<f32>()
                .unwrap();
            let mut rng = rand::SeedableRng::seed_from_u64(0);
            let rng: &mut rand::rngs::StdRng = &mut rng;
            let held = head::Decision::of(&ControllerState::NEUTRAL);
            queue.push_back(head::decode(&logits[0], &Decoding::Argmax, &held, rng));
            let due = if queue.len() > delay {
                queue.pop_front().unwrap()
            } else {
                ControllerState::NEUTRAL
            };
            assert_eq!(out.controller, due, "controller on frame {}", frame.frame);
            t += 1;
        }
        assert!(t > 0);
        drop(client);
        server.shutdown().await;
    })
    .await;
}
