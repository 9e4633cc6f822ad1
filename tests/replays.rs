//! Every shared replay either streams end to end through the daemon, one
//! reply per frame, or fails to read with an error that names the file; and
//! for every valid replay the daemon's resets equal the file's match start
//! plus its stock losses.

use fourstock_proto::ClientMessage;
use fourstock_tests::client::{within_timeout, TestClient};
use fourstock_tests::policies::CountingPolicy;
use fourstock_tests::server::{config, TestServer};
use fourstock_tests::shared::replays_dir;

/// Frames sent before their replies are read: keeps the socket busy without
/// unbounded buffering.
const WINDOW: usize = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replay_streams_with_one_reply_per_frame_and_the_expected_resets() {
    let Some(dir) = replays_dir("replays") else {
        return;
    };
    // The counting policy keeps this about the daemon's bookkeeping, not
    // tensor math; its default reset rule is the product's (stock loss and
    // new match).
    let server = TestServer::with_policy(CountingPolicy::new("c").into_arc(), config(1000)).await;
    let files = fourstock_replay::replay_files(&dir).expect("list replays");
    assert!(
        files.len() > 50,
        "expected the shared replays, found {}",
        files.len()
    );
    let (mut streamed, mut refused, mut frames_total) = (0, 0, 0u64);
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let replay = match fourstock_replay::read_replay(file) {
            Ok(replay) => replay,
            Err(e) => {
                assert!(
                    e.to_string().contains(&name),
                    "the error names the file: {e}"
                );
                refused += 1;
                continue;
            }
        };
        let ClientMessage::MatchStart(start) = &replay.messages[0] else {
            panic!("{name}: no MatchStart first");
        };
        let ports: Vec<(u8, u8)> = start
            .players
            .iter()
            .map(|p| (p.port, p.character))
            .collect();
        let (resets, frames) = within_timeout(async {
            let (mut client, _) = TestClient::handshake(server.addr, &ports).await;
            let mut expected = std::collections::VecDeque::new();
            let (mut resets, mut frames) = (0u64, 0u64);
            for message in &replay.messages {
                client.send(message).await;
                if let ClientMessage::Frame(f) = message {
                    expected.push_back(f.frame);
                }
                while expected.len() >= WINDOW {
                    let reply = client.reply().await;
                    assert_eq!(
                        Some(reply.frame),
                        expected.pop_front(),
                        "{name}: replies in step"
                    );
                    assert_eq!(reply.outputs.len(), ports.len());
                    resets += reply.outputs.iter().any(|o| o.reset) as u64;
                    frames += 1;
                }
            }
            while let Some(frame) = expected.pop_front() {
                let reply = client.reply().await;
                assert_eq!(reply.frame, frame, "{name}: replies in step");
                resets += reply.outputs.iter().any(|o| o.reset) as u64;
                frames += 1;
            }
            client.shutdown().await;
            assert_eq!(
                client.recv().await,
                None,
                "{name}: nothing after the last reply"
            );
            (resets, frames)
        })
        .await;
        assert_eq!(
            frames,
            replay.frames().count() as u64,
            "{name}: one reply per frame"
        );
        assert_eq!(
            resets,
            replay.summary.expected_resets() as u64,
            "{name}: resets reported vs match start + stock losses in the file"
        );
        streamed += 1;
        frames_total += frames;
    }
    println!(
        "{streamed} replays streamed ({frames_total} frames), {refused} refused with clear errors"
    );
    assert!(streamed > 0);
    server.shutdown().await;
}
