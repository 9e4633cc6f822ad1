//! Nothing a client does can hold the daemon: a client that stops reading
//! is ended at its write deadline and its slot freed; shutdown ends within
//! its grace even while a client is not reading; a client silent after its
//! Hello is ended with `Idle`.

use std::time::Duration;

use fourstock_client::{Client, ClientError};
use fourstock_proto::{encode_client, ClientMessage, ErrorCode};
use fourstock_tests::client::{hello, within_timeout, TestClient};
use fourstock_tests::fixtures::{frames, FALCO};
use fourstock_tests::metrics::{counted, value};
use fourstock_tests::policies::small_lstm;
use fourstock_tests::server::{config, TestServer};
use tokio::net::TcpSocket;

/// A client with a small receive window, after its Hello.
async fn stalled_client(addr: std::net::SocketAddr) -> Client {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = socket.connect(addr).await.expect("connect");
    let mut client = Client::from_stream(stream).expect("client");
    client.hello(hello(&[(1, FALCO)])).await.expect("welcome");
    client
}

/// Steps frames 0 to 19, then re-sends 5 to 19 over and over, until the
/// daemon closes the connection (a write then fails); never reads.
/// Re-sends are answered from the reply cache with no step, so the daemon
/// is held up only by its writes. (Frame 0 again would be a new match.)
async fn send_without_reading(client: &mut Client) -> ClientError {
    let encode = |from, to| -> Vec<u8> {
        frames(from, to)
            .into_iter()
            .flat_map(|frame| encode_client(&ClientMessage::Frame(frame)))
            .collect()
    };
    if let Err(e) = client.send_raw(&encode(0, 20)).await {
        return e;
    }
    let bytes = encode(5, 20);
    loop {
        if let Err(e) = client.send_raw(&bytes).await {
            return e;
        }
    }
}

fn count(telemetry: &fourstock_telemetry::Telemetry, series: &str) -> u64 {
    value(&telemetry.encode(), series)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_ended_at_its_write_deadline_and_its_slot_freed() {
    within_timeout(async {
        let mut config = config(1000);
        config.max_connections = 1;
        config.write_timeout = Duration::from_millis(200);
        let telemetry = config.telemetry.clone();
        let server = TestServer::with_policy(small_lstm("tiny", 3), config).await;

        let mut stalled = stalled_client(server.addr).await;
        tokio::select! {
            _ = counted(&telemetry, "fourstock_sessions_closed_total", 1) => {}
            _ = send_without_reading(&mut stalled) => {}
        }
        counted(&telemetry, "fourstock_sessions_closed_total", 1).await;
        assert!(
            count(&telemetry, "fourstock_write_waits_total") >= 1,
            "{}",
            telemetry.encode()
        );
        assert_eq!(
            count(&telemetry, "fourstock_errors_total{code=\"truncated\"}"),
            1,
            "the session ends for its write deadline:\n{}",
            telemetry.encode()
        );

        // The one slot is free again: the next client is welcomed, not Busy.
        let (mut next, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        let reply = next.frame(&frames(0, 1)[0]).await;
        assert_eq!(reply.frame, 0);
        drop(next);
        drop(stalled);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_while_a_client_is_not_reading_and_a_reading_client_hears_why() {
    within_timeout(async {
        let mut config = config(1000);
        // No write deadline to speak of: only the shutdown grace can end a
        // session whose client stopped reading.
        config.write_timeout = Duration::from_secs(3600);
        let telemetry = config.telemetry.clone();
        let server = TestServer::with_policy(small_lstm("tiny", 3), config).await;

        let (mut reader, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        for frame in frames(0, 10) {
            assert_eq!(reader.frame(&frame).await.frame, frame.frame);
        }

        let mut stalled = stalled_client(server.addr).await;
        let stalled_task = tokio::spawn(async move {
            send_without_reading(&mut stalled).await;
            stalled
        });
        // A write has waited for the stalled client: its window is full.
        counted(&telemetry, "fourstock_write_waits_total", 1).await;

        // Returns only once every session has closed.
        server.shutdown().await;

        reader.expect_error(ErrorCode::ShuttingDown).await;
        let stalled = stalled_task.await.expect("the stalled client's task");
        drop(stalled);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_silent_for_the_idle_timeout_is_ended_with_idle() {
    within_timeout(async {
        let mut config = config(1000);
        config.idle_timeout = Some(Duration::from_secs(1));
        let telemetry = config.telemetry.clone();
        let server = TestServer::with_policy(small_lstm("tiny", 3), config).await;

        let (mut client, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        // Six frames a quarter of a second apart: 1.5 s in all, longer than
        // the timeout, and never a second without a message.
        let mut every = tokio::time::interval(Duration::from_millis(250));
        for frame in frames(0, 6) {
            every.tick().await;
            assert_eq!(client.frame(&frame).await.frame, frame.frame);
        }
        assert_eq!(
            count(&telemetry, "fourstock_sessions_closed_total"),
            0,
            "a session that keeps sending is not idle"
        );
        // Then silence.
        let error = client.expect_error(ErrorCode::Idle).await;
        assert!(error.message.contains("idle"), "{}", error.message);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_silent_after_its_hello_frees_its_slot() {
    within_timeout(async {
        let mut config = config(1000);
        config.max_connections = 1;
        config.idle_timeout = Some(Duration::from_millis(300));
        let telemetry = config.telemetry.clone();
        let server = TestServer::with_policy(small_lstm("tiny", 3), config).await;

        let (mut silent, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        silent.expect_error(ErrorCode::Idle).await;
        // The daemon lingers until the client closes too.
        drop(silent);
        counted(&telemetry, "fourstock_sessions_closed_total", 1).await;
        let (mut next, _) = TestClient::handshake(server.addr, &[(1, FALCO)]).await;
        assert_eq!(next.frame(&frames(0, 1)[0]).await.frame, 0);
        drop(next);
        server.shutdown().await;
    })
    .await;
}
