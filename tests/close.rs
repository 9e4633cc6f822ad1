//! How a session ends: gracefully, so that the client receives every reply
//! and the Error before the end of the stream, even when it is still
//! sending and reading slowly as the daemon closes. A socket dropped with
//! unread input makes the kernel send a reset, which throws away what was
//! still queued for the client.

use fourstock_client::{Client, ClientError};
use fourstock_proto::{encode_client, ClientMessage, ErrorCode, ServerMessage};
use fourstock_tests::client::{hello, within_timeout};
use fourstock_tests::fixtures::{frame, frames, FALCO};
use fourstock_tests::metrics::counted;
use fourstock_tests::policies::small_lstm;
use fourstock_tests::server::{config, TestServer};
use tokio::net::TcpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_session_delivers_every_reply_and_the_error_to_a_slow_reader() {
    within_timeout(async {
        let config = config(1000);
        let telemetry = config.telemetry.clone();
        let server = TestServer::with_policy(small_lstm("tiny", 3), config).await;

        // A client with a small receive window, so the daemon's replies
        // wait in the daemon's send queue while the client is not reading.
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(server.addr).await.expect("connect");
        let mut client = Client::from_stream(stream).expect("client");
        client.hello(hello(&[(1, FALCO)])).await.expect("welcome");

        // 300 good frames, a bad one, and 100 more the daemon never takes,
        // in one write.
        let accepted = 300;
        let mut bad = frame(accepted, [4, 4]);
        bad.players[0].x = f32::NAN;
        let mut bytes = Vec::new();
        for message in frames(0, accepted)
            .into_iter()
            .chain([bad])
            .chain(frames(accepted + 1, accepted + 101))
        {
            bytes.extend(encode_client(&ClientMessage::Frame(message)));
        }
        client.send_raw(&bytes).await.expect("write the frames");

        // Read nothing until the daemon has ended the session.
        counted(&telemetry, "fourstock_sessions_closed_total", 1).await;

        for n in 0..accepted {
            match client.read_message().await {
                Ok(Some(ServerMessage::Reply(reply))) => assert_eq!(reply.frame, n),
                other => panic!("expected the reply to frame {n}, got {other:?}"),
            }
        }
        match client.read_message().await {
            Ok(Some(ServerMessage::Error(error))) => assert_eq!(
                ErrorCode::from_u16(error.code),
                Some(ErrorCode::InvalidValue),
                "{}",
                error.message
            ),
            other => panic!("expected the Error, got {other:?}"),
        }
        // The end of the stream, not a reset.
        match client.read_message().await {
            Ok(None) => {}
            Err(ClientError::Io(e)) => panic!("the daemon reset the connection: {e}"),
            other => panic!("expected the end of the stream, got {other:?}"),
        }
        server.shutdown().await;
    })
    .await;
}
