//! Untrusted bytes: every bad input gets a typed error message the peer can
//! read, frames accepted before it are still answered, and the daemon goes
//! on serving everyone else.

use std::time::Duration;

use fourstock_proto::{
    encode_client, ClientMessage, ErrorCode, Frame, Hello, MAGIC, PROTOCOL_VERSION,
};
use fourstock_server::ServerConfig;
use fourstock_tests::client::{hello, within_timeout, TestClient};
use fourstock_tests::fixtures::{frame, frames, FALCO, FOX};
use fourstock_tests::policies::small_lstm;
use fourstock_tests::server::{config, TestServer};

/// A daemon plus a healthy session that keeps playing between the bad ones.
struct Harness {
    server: TestServer,
    healthy: TestClient,
    next_frame: i32,
}

impl Harness {
    async fn new(config: ServerConfig) -> Harness {
        let server = TestServer::with_policy(small_lstm("tiny", 3), config).await;
        let (healthy, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        Harness {
            server,
            healthy,
            next_frame: 0,
        }
    }

    /// The healthy session still gets correct, on-time replies.
    async fn still_serving(&mut self) {
        for _ in 0..5 {
            let f = frame(self.next_frame, [4, 4]);
            let reply = self.healthy.frame(&f).await;
            assert_eq!(reply.frame, f.frame);
            assert!(!reply.outputs[0].fallback);
            self.next_frame += 1;
        }
    }

    async fn connect(&self) -> TestClient {
        TestClient::connect(self.server.addr).await
    }

    async fn session(&self) -> TestClient {
        TestClient::handshake(self.server.addr, &[(1, FALCO)])
            .await
            .0
    }
}

fn frame_bytes(f: &Frame) -> Vec<u8> {
    encode_client(&ClientMessage::Frame(f.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bytes_are_refused_with_a_readable_error() {
    within_timeout(async {
        let mut h = Harness::new(config(1000)).await;

        // Garbage inside a plausible length prefix.
        let mut c = h.connect().await;
        c.send_raw(&[6, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
            .await;
        c.expect_error(ErrorCode::Malformed).await;
        h.still_serving().await;

        // Text where a message should be: the prefix reads as a huge length.
        let mut c = h.connect().await;
        c.send_raw(b"GET / HTTP/1.1\r\n\r\n").await;
        let e = c.expect_error(ErrorCode::TooLarge).await;
        assert!(e.message.contains("limit"), "{}", e.message);
        h.still_serving().await;

        // An oversized length prefix is refused before any payload is sent.
        let mut c = h.connect().await;
        c.send_raw(&u32::MAX.to_le_bytes()).await;
        c.expect_error(ErrorCode::TooLarge).await;
        h.still_serving().await;

        // A valid message followed by stray bytes inside its length.
        let mut c = h.connect().await;
        let mut bytes = encode_client(&ClientMessage::Hello(hello(&[(1, FOX)])));
        bytes.push(0);
        let len = (bytes.len() - 4) as u32;
        bytes[..4].copy_from_slice(&len.to_le_bytes());
        c.send_raw(&bytes).await;
        c.expect_error(ErrorCode::Malformed).await;
        h.still_serving().await;

        // An unknown message tag.
        let mut c = h.connect().await;
        c.send_raw(&[4, 0, 0, 0, 99, 0, 0, 0]).await;
        c.expect_error(ErrorCode::Malformed).await;
        h.still_serving().await;
        h.server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_mistakes_are_refused() {
    within_timeout(async {
        let mut h = Harness::new(config(1000)).await;

        let wrong_version = Hello {
            version: PROTOCOL_VERSION + 1,
            ..hello(&[(1, FOX)])
        };
        let mut c = h.connect().await;
        c.send(&ClientMessage::Hello(wrong_version)).await;
        let e = c.expect_error(ErrorCode::UnsupportedVersion).await;
        assert!(
            e.message.contains(&PROTOCOL_VERSION.to_string()),
            "{}",
            e.message
        );

        // A version 1 client's Hello, as it put it on the wire (one port,
        // no model, no budget): its ports lack the player name, yet it is
        // told its version is unsupported, not that its bytes are malformed.
        let mut c = h.connect().await;
        let mut v1 = vec![0u8; 4];
        v1.extend(b"4STK");
        v1.extend(1u16.to_le_bytes());
        v1.extend(1u64.to_le_bytes());
        v1.extend([1, FOX, 0, 0]);
        c.send_raw(&[&(v1.len() as u32).to_le_bytes()[..], &v1].concat())
            .await;
        let e = c.expect_error(ErrorCode::UnsupportedVersion).await;
        assert!(e.message.contains("version 1"), "{}", e.message);

        // A version 2 client's Hello: no token after the version, so its
        // port count would be read as a token; the version is checked first.
        let mut c = h.connect().await;
        let mut v2 = vec![0u8; 4];
        v2.extend(b"4STK");
        v2.extend(2u16.to_le_bytes());
        v2.extend(1u64.to_le_bytes());
        v2.extend([1, FOX, 0, 0, 0]);
        c.send_raw(&[&(v2.len() as u32).to_le_bytes()[..], &v2].concat())
            .await;
        let e = c.expect_error(ErrorCode::UnsupportedVersion).await;
        assert!(e.message.contains("version 2"), "{}", e.message);

        let wrong_magic = Hello {
            magic: *b"SLP!",
            ..hello(&[(1, FOX)])
        };
        assert_ne!(wrong_magic.magic, MAGIC);
        let mut c = h.connect().await;
        c.send(&ClientMessage::Hello(wrong_magic)).await;
        c.expect_error(ErrorCode::UnsupportedVersion).await;
        h.still_serving().await;

        // A frame before the handshake.
        let mut c = h.connect().await;
        c.send_raw(&frame_bytes(&frame(0, [4, 4]))).await;
        let e = c.expect_error(ErrorCode::OutOfOrder).await;
        assert!(e.message.contains("Hello"), "{}", e.message);

        // A second Hello.
        let mut c = h.session().await;
        c.send(&ClientMessage::Hello(hello(&[(1, FOX)]))).await;
        c.expect_error(ErrorCode::OutOfOrder).await;

        // Ports that do not exist, twice the same port, none at all.
        for ports in [
            vec![(5, FOX)],
            vec![(0, FOX)],
            vec![(2, FOX), (2, FALCO)],
            vec![],
        ] {
            let mut c = h.connect().await;
            c.send(&ClientMessage::Hello(hello(&ports))).await;
            c.expect_error(ErrorCode::UnknownPort).await;
        }
        // A character that does not exist.
        let mut c = h.connect().await;
        c.send(&ClientMessage::Hello(hello(&[(1, 40)]))).await;
        c.expect_error(ErrorCode::OutOfRange).await;
        // An impossible budget.
        let mut c = h.connect().await;
        c.send(&ClientMessage::Hello(Hello {
            budget_us: Some(0),
            ..hello(&[(1, FOX)])
        }))
        .await;
        c.expect_error(ErrorCode::BadHandshake).await;
        h.still_serving().await;
        h.server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_in_frames_are_refused_after_accepted_frames_are_answered() {
    within_timeout(async {
        let mut h = Harness::new(config(1000)).await;
        let mut cases: Vec<(&str, Frame, ErrorCode)> = Vec::new();
        let mut f = frame(3, [4, 4]);
        f.players[0].x = f32::NAN;
        cases.push(("NaN position", f, ErrorCode::InvalidValue));
        let mut f = frame(3, [4, 4]);
        f.players[1].percent = f32::INFINITY;
        cases.push(("infinite percent", f, ErrorCode::InvalidValue));
        let mut f = frame(3, [4, 4]);
        f.players[0].controller.main_x = 1.5;
        cases.push(("stick out of range", f, ErrorCode::InvalidValue));
        let mut f = frame(3, [4, 4]);
        f.players[1].character = 33;
        cases.push(("character id 33", f, ErrorCode::OutOfRange));
        let mut f = frame(3, [4, 4]);
        f.stage = 300;
        cases.push(("stage id 300", f, ErrorCode::OutOfRange));
        let mut f = frame(3, [4, 4]);
        f.players[1].port = 7;
        cases.push(("port 7", f, ErrorCode::UnknownPort));
        let mut f = frame(3, [4, 4]);
        f.players.remove(0);
        cases.push(("controlled port missing", f, ErrorCode::UnknownPort));

        for (what, bad, code) in cases {
            let mut c = h.session().await;
            // Three good frames and the bad one in a single write: the good
            // ones were accepted, so they are answered before the error.
            let mut bytes = Vec::new();
            for f in frames(0, 3) {
                bytes.extend(frame_bytes(&f));
            }
            bytes.extend(frame_bytes(&bad));
            c.send_raw(&bytes).await;
            for n in 0..3 {
                assert_eq!(
                    c.reply().await.frame,
                    n,
                    "{what}: accepted frame {n} answered"
                );
            }
            c.expect_error(code).await;
            h.still_serving().await;
        }
        h.server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_mid_message_is_reported_after_accepted_frames() {
    within_timeout(async {
        let mut h = Harness::new(config(1000)).await;
        let mut c = h.session().await;
        let mut bytes = Vec::new();
        for f in frames(0, 3) {
            bytes.extend(frame_bytes(&f));
        }
        let half = frame_bytes(&frame(3, [4, 4]));
        bytes.extend(&half[..half.len() / 2]);
        c.send_raw(&bytes).await;
        // Close our write half: the daemon sees the stream end mid-message.
        c.shutdown().await;
        for n in 0..3 {
            assert_eq!(c.reply().await.frame, n);
        }
        let e = c.expect_error(ErrorCode::Truncated).await;
        assert!(e.message.contains("bytes into"), "{}", e.message);
        h.still_serving().await;
        h.server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_and_clients_over_the_limit_are_turned_away() {
    within_timeout(async {
        let config = ServerConfig {
            max_connections: 2,
            handshake_timeout: Duration::from_millis(200),
            ..config(1000)
        };
        let mut h = Harness::new(config).await;
        let _second = h.session().await;
        // Both slots taken: a third client is told it is turned away.
        let mut third = h.connect().await;
        third.expect_error(ErrorCode::Busy).await;
        h.still_serving().await;
        drop(_second);

        // A client that never says Hello is dropped after the handshake timeout.
        let server = TestServer::with_policy(
            small_lstm("tiny", 3),
            ServerConfig {
                handshake_timeout: Duration::from_millis(200),
                ..fourstock_tests::server::config(1000)
            },
        )
        .await;
        let mut silent = TestClient::connect(server.addr).await;
        let e = silent.expect_error(ErrorCode::OutOfOrder).await;
        assert!(e.message.contains("no Hello"), "{}", e.message);
        server.shutdown().await;
        h.server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_accepted_frames_then_says_so() {
    within_timeout(async {
        let server = TestServer::with_policy(small_lstm("tiny", 3), config(1000)).await;
        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for f in frames(0, 5) {
            client.frame(&f).await;
        }
        let stopping = tokio::spawn(server.shutdown());
        client.expect_error(ErrorCode::ShuttingDown).await;
        stopping.await.unwrap();
    })
    .await;
}
