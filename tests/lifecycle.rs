//! The hidden-state lifecycle seen from a client: one step per frame, resets
//! at stock loss and new match, rollback re-sends answered again without
//! stepping, gaps stepped once, and the reaction delay queue.

use fourstock_policy::ResetRule;
use fourstock_proto::{
    ClientMessage, ControllerState, FrameReply, MatchEnd, MatchStart, PlayerInfo,
};
use fourstock_tests::client::{hello, within_timeout, TestClient};
use fourstock_tests::fixtures::{frame, frames, BATTLEFIELD, FALCO, FOX};
use fourstock_tests::policies::{small_lstm, Count, CountingPolicy};
use fourstock_tests::server::{config, TestServer};

fn count(reply: &FrameReply) -> Count {
    Count::read(&reply.outputs[0].controller).expect("a counting output")
}

async fn counting_server(policy: CountingPolicy) -> TestServer {
    TestServer::with_policy(policy.into_arc(), config(1000)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_frame_steps_once_in_order() {
    within_timeout(async {
        let server = counting_server(CountingPolicy::new("c")).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for (i, f) in frames(-123, -23).iter().enumerate() {
            let reply = client.frame(f).await;
            assert_eq!(reply.frame, f.frame, "the reply echoes the frame number");
            let c = count(&reply);
            assert_eq!(c.step, i as u32 + 1);
            assert_eq!(c.frame_bits, Count::of_frame(f.frame));
            assert_eq!(
                reply.outputs[0].reset,
                i == 0,
                "only the match start resets"
            );
            assert!(!reply.outputs[0].fallback);
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_loss_resets_every_controlled_port() {
    within_timeout(async {
        let server = counting_server(CountingPolicy::new("c")).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO), (2, FOX)]).await;
        for f in frames(0, 10) {
            client.frame(&f).await;
        }
        // Port 2 loses a stock on frame 10.
        let reply = client.frame(&frame(10, [4, 3])).await;
        for output in &reply.outputs {
            assert!(
                output.reset,
                "port {} resets at the stock loss",
                output.port
            );
            assert_eq!(Count::read(&output.controller).unwrap().step, 1);
        }
        let reply = client.frame(&frame(11, [4, 3])).await;
        assert!(!reply.outputs[0].reset);
        assert_eq!(count(&reply).step, 2);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_reset_rule_is_obeyed() {
    within_timeout(async {
        let rule = ResetRule {
            stock_loss: false,
            new_match: true,
        };
        let server = counting_server(CountingPolicy::new("c").with_reset(rule)).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for f in frames(0, 5) {
            client.frame(&f).await;
        }
        let reply = client.frame(&frame(5, [3, 4])).await;
        assert!(
            !reply.outputs[0].reset,
            "this model does not reset at stock loss"
        );
        assert_eq!(count(&reply).step, 6);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_matches_reset_by_message_by_counter_and_by_stage() {
    within_timeout(async {
        let server = counting_server(CountingPolicy::new("c")).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for f in frames(-123, -100) {
            client.frame(&f).await;
        }
        // An explicit MatchStart.
        client
            .send(&ClientMessage::MatchStart(MatchStart {
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
            }))
            .await;
        let reply = client.frame(&frame(-123, [4, 4])).await;
        assert!(reply.outputs[0].reset);
        assert_eq!(count(&reply).step, 1);
        for f in frames(-122, 300) {
            client.frame(&f).await;
        }
        // The counter going back to the start, with no message.
        let reply = client.frame(&frame(-123, [4, 4])).await;
        assert!(reply.outputs[0].reset);
        assert_eq!(count(&reply).step, 1);
        client.frame(&frame(-122, [4, 4])).await;
        // The stage changing mid-stream.
        let mut elsewhere = frame(-121, [4, 4]);
        elsewhere.stage = 32;
        let reply = client.frame(&elsewhere).await;
        assert!(reply.outputs[0].reset);
        assert_eq!(count(&reply).step, 1);
        // MatchEnd: the next frame begins a new match.
        client
            .send(&ClientMessage::MatchEnd(MatchEnd {
                frame: -121,
                method: 2,
            }))
            .await;
        let mut next = frame(-120, [4, 4]);
        next.stage = 32;
        let reply = client.frame(&next).await;
        assert!(reply.outputs[0].reset);
        assert_eq!(count(&reply).step, 1);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_resends_get_the_same_reply_without_stepping() {
    within_timeout(async {
        let server = counting_server(CountingPolicy::new("c")).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        let mut first = Vec::new();
        for f in frames(100, 106) {
            first.push(client.frame(&f).await);
        }
        // Slippi rolls back and re-sends frames 103 to 105.
        for (i, f) in frames(103, 106).iter().enumerate() {
            let again = client.frame(f).await;
            assert_eq!(again, first[3 + i], "frame {} answered as before", f.frame);
        }
        let reply = client.frame(&frame(106, [4, 4])).await;
        assert_eq!(count(&reply).step, 7, "re-sends did not step the state");

        // Past the 256 replies the daemon keeps: a re-send of frame 110
        // finds frame 366's reply in its place and must not send it; it
        // repeats what the port last did (frame 398's re-sent reply),
        // still without stepping.
        let mut last = reply;
        for f in frames(107, 400) {
            last = client.frame(&f).await;
        }
        let recent = client.frame(&frame(398, [4, 4])).await;
        assert_eq!(recent.frame, 398);
        assert_eq!(
            count(&recent).step,
            count(&last).step - 1,
            "frame 398 as sent"
        );
        let old = client.frame(&frame(110, [4, 4])).await;
        assert_eq!(old.frame, 110);
        assert_eq!(old.outputs[0].controller, recent.outputs[0].controller);
        assert!(!old.outputs[0].fallback);
        let next = client.frame(&frame(400, [4, 4])).await;
        assert_eq!(
            count(&next).step,
            count(&last).step + 1,
            "no re-send stepped"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_stepped_once_without_a_reset() {
    within_timeout(async {
        let server = counting_server(CountingPolicy::new("c")).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for f in frames(0, 5) {
            client.frame(&f).await;
        }
        let reply = client.frame(&frame(40, [4, 4])).await;
        assert_eq!(reply.frame, 40);
        assert!(!reply.outputs[0].reset);
        assert_eq!(count(&reply).step, 6);
        assert_eq!(count(&reply).frame_bits, Count::of_frame(40));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaction_delay_shifts_actions_and_a_reset_clears_the_queue() {
    within_timeout(async {
        let server = counting_server(CountingPolicy::new("c").with_delay(2)).await;
        let (mut client, welcome) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        assert_eq!(welcome.ports[0].delay, 2);
        let r0 = client.frame(&frame(0, [4, 4])).await;
        let r1 = client.frame(&frame(1, [4, 4])).await;
        assert_eq!(r0.outputs[0].controller, ControllerState::NEUTRAL);
        assert_eq!(r1.outputs[0].controller, ControllerState::NEUTRAL);
        for n in 2..8 {
            let c = count(&client.frame(&frame(n, [4, 4])).await);
            assert_eq!(
                c.frame_bits,
                Count::of_frame(n - 2),
                "frame {n} carries frame {}'s action",
                n - 2
            );
            assert_eq!(c.step, n as u32 - 1);
        }
        // A stock loss empties the queue: neutral again for `delay` frames.
        let r8 = client.frame(&frame(8, [3, 4])).await;
        let r9 = client.frame(&frame(9, [3, 4])).await;
        assert_eq!(r8.outputs[0].controller, ControllerState::NEUTRAL);
        assert_eq!(r9.outputs[0].controller, ControllerState::NEUTRAL);
        let c = count(&client.frame(&frame(10, [3, 4])).await);
        assert_eq!((c.step, c.frame_bits), (1, Count::of_frame(8)));
        server.shutdown().await;
    })
    .await;
}

/// Plays `frames` and returns every reply's controllers.
async fn play(
    client: &mut TestClient,
    frames: &[fourstock_proto::Frame],
) -> Vec<Vec<ControllerState>> {
    let mut out = Vec::new();
    for f in frames {
        let reply = client.frame(f).await;
        out.push(reply.outputs.iter().map(|o| o.controller).collect());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reset_a_real_policy_plays_exactly_as_a_fresh_session() {
    within_timeout(async {
        let server = TestServer::with_policy(small_lstm("tiny", 7), config(1000)).await;
        let ports = [(1, FALCO), (2, FOX)];
        let after_loss: Vec<_> = (200..260).map(|n| frame(n, [4, 3])).collect();
        let new_match: Vec<_> = frames(-123, -63);

        // A session that has played a while, then loses a stock...
        let (mut veteran, _) = TestClient::handshake(server.addr, &ports).await;
        play(&mut veteran, &frames(0, 200)).await;
        let after_reset = play(&mut veteran, &after_loss).await;
        // ...plays as a fresh session that starts on those frames.
        let (mut fresh, _) = TestClient::handshake(server.addr, &ports).await;
        assert_eq!(after_reset, play(&mut fresh, &after_loss).await);

        // The same for a new match detected from the frame counter.
        let veteran_new_match = play(&mut veteran, &new_match).await;
        let (mut fresh, _) = TestClient::handshake(server.addr, &ports).await;
        assert_eq!(veteran_new_match, play(&mut fresh, &new_match).await);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ports_player_name_holds_through_every_reset_and_beside_other_names() {
    within_timeout(async {
        let policy = CountingPolicy::new("named").with_player_names(&[("Ann", 3), ("Bo", 7)]);
        let server = counting_server(policy).await;
        // Port 1 imitates Bo; port 2 keeps the default, Ann.
        let mut request = hello(&[(1, FALCO), (2, FOX)]);
        request.ports[0].player_name = Some("Bo".into());
        let mut client = TestClient::connect(server.addr).await;
        let welcome = client.hello(request).await;
        let names: Vec<_> = welcome
            .ports
            .iter()
            .map(|p| p.player_name.clone())
            .collect();
        assert_eq!(names, [Some("Bo".into()), Some("Ann".into())]);
        // Another session on the same model imitates Ann on port 1, with
        // its frames in flight beside the first session's.
        let mut other = hello(&[(1, FALCO)]);
        other.ports[0].player_name = Some("Ann".into());
        let mut beside = TestClient::connect(server.addr).await;
        beside.hello(other).await;

        let stock_loss = frame(30, [3, 4]);
        let mut played = frames(0, 30);
        played.push(stock_loss.clone());
        played.extend(frames(-123, -100)); // a new match, by the counter
        let mut resets = 0;
        for f in &played {
            client.send(&ClientMessage::Frame(f.clone())).await;
            beside.send(&ClientMessage::Frame(f.clone())).await;
            let (reply, other) = (client.reply().await, beside.reply().await);
            resets += reply.outputs[0].reset as u32;
            let codes: Vec<_> = reply
                .outputs
                .iter()
                .map(|o| Count::read(&o.controller).unwrap().name_code)
                .collect();
            assert_eq!(codes, [Some(7), Some(3)], "frame {}", f.frame);
            assert_eq!(count(&other).name_code, Some(3), "frame {}", f.frame);
        }
        assert_eq!(resets, 3, "the first frame, the stock loss, the new match");
        server.shutdown().await;
    })
    .await;
}
