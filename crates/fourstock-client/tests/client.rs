//! The client against a scripted daemon on a loopback port: each test
//! plays the daemon's side byte by byte and checks what the client makes
//! of it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use fourstock_client::{hello, Client, ClientError};
use fourstock_proto::{
    decode_client, encode_client, encode_server, ClientMessage, DecodeError, ErrorCode,
    ErrorMessage, FrameReply, MatchEnd, MessageDecoder, PortRequest, ServerMessage, Welcome,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Every test here touches a socket, so each runs under this limit.
const TIMEOUT: Duration = Duration::from_secs(10);

async fn within_timeout<F: Future>(body: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, body)
        .await
        .expect("test timed out: the client or the scripted daemon hung")
}

/// A daemon on an ephemeral loopback port that accepts one connection and
/// runs `script` on it.
async fn daemon<S, F>(script: S) -> (SocketAddr, tokio::task::JoinHandle<()>)
where
    S: FnOnce(Peer) -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        script(Peer {
            stream,
            buffer: BytesMut::new(),
        })
        .await;
    });
    (addr, task)
}

/// The daemon's end of the connection.
struct Peer {
    stream: TcpStream,
    buffer: BytesMut,
}

impl Peer {
    async fn read(&mut self) -> Option<ClientMessage> {
        let decoder = MessageDecoder::new();
        loop {
            if let Some(payload) = decoder.next_payload(&mut self.buffer).unwrap() {
                return Some(decode_client(&payload).unwrap());
            }
            if self.stream.read_buf(&mut self.buffer).await.unwrap() == 0 {
                return None;
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn send(&mut self, message: &ServerMessage) {
        self.write(&encode_server(message)).await;
    }
}

/// A client connected to a daemon that runs `script`.
async fn connect_to<S, F>(script: S) -> Client
where
    S: FnOnce(Peer) -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let (addr, _daemon) = daemon(script).await;
    Client::connect(addr).await.unwrap()
}

/// What a handshake answered with `answer` fails with.
async fn handshake_answered_with(answer: ServerMessage) -> ClientError {
    let (addr, _daemon) = daemon(|mut peer| async move {
        assert!(matches!(peer.read().await, Some(ClientMessage::Hello(_))));
        peer.send(&answer).await;
    })
    .await;
    Client::handshake(addr, hello(ports())).await.err().unwrap()
}

fn welcome() -> ServerMessage {
    ServerMessage::Welcome(Welcome {
        version: fourstock_proto::PROTOCOL_VERSION,
        budget_us: 1000,
        ports: Vec::new(),
    })
}

fn reply(frame: i32) -> ServerMessage {
    ServerMessage::Reply(FrameReply {
        frame,
        outputs: Vec::new(),
    })
}

fn refusal(code: ErrorCode, message: &str) -> ServerMessage {
    ServerMessage::Error(ErrorMessage {
        code: code as u16,
        message: message.into(),
    })
}

fn ports() -> Vec<PortRequest> {
    vec![PortRequest {
        port: 2,
        character: 20,
        model: Some("tiny".into()),
        player_name: None,
    }]
}

#[tokio::test]
async fn the_handshake_sends_the_hello_and_returns_the_welcome() {
    within_timeout(async {
        let (addr, daemon) = daemon(|mut peer| async move {
            let Some(ClientMessage::Hello(got)) = peer.read().await else {
                panic!("expected a Hello first");
            };
            assert_eq!(got, hello(ports()));
            assert_eq!(got.magic, fourstock_proto::MAGIC);
            assert_eq!(got.version, fourstock_proto::PROTOCOL_VERSION);
            assert_eq!(got.budget_us, None);
            peer.send(&welcome()).await;
        })
        .await;
        let (_client, got) = Client::handshake(addr, hello(ports())).await.unwrap();
        assert_eq!(ServerMessage::Welcome(got), welcome());
        daemon.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_refused_handshake_carries_the_daemons_code_and_text() {
    within_timeout(async {
        let e =
            handshake_answered_with(refusal(ErrorCode::UnknownModel, "no model named tiny")).await;
        assert_eq!(
            e.to_string(),
            "the daemon refused: UnknownModel: no model named tiny"
        );
        let ClientError::Refused { code, message } = e else {
            panic!("not a refusal: {e:?}");
        };
        assert_eq!(ErrorCode::from_u16(code), Some(ErrorCode::UnknownModel));
        assert_eq!(message, "no model named tiny");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_error_code_is_shown_as_its_number() {
    within_timeout(async {
        let e = handshake_answered_with(ServerMessage::Error(ErrorMessage {
            code: 999,
            message: "from the future".into(),
        }))
        .await;
        assert_eq!(e.to_string(), "the daemon refused: 999: from the future");
    })
    .await;
}

#[tokio::test]
async fn a_reply_instead_of_a_welcome_is_unexpected() {
    within_timeout(async {
        let e = handshake_answered_with(reply(7)).await;
        let ClientError::Unexpected { expected, got } = &e else {
            panic!("not an unexpected message: {e:?}");
        };
        assert_eq!((*expected, &**got), ("Welcome", &reply(7)));
        assert!(e.to_string().starts_with("expected Welcome, got Reply("));
    })
    .await;
}

#[tokio::test]
async fn read_message_returns_errors_as_sent_and_none_at_a_clean_close() {
    within_timeout(async {
        let answer = refusal(ErrorCode::Busy, "full");
        let sent = answer.clone();
        let mut client = connect_to(|mut peer| async move {
            peer.send(&sent).await;
        })
        .await;
        assert_eq!(client.read_message().await.unwrap(), Some(answer));
        assert_eq!(client.read_message().await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn recv_makes_a_close_an_error() {
    within_timeout(async {
        let mut client = connect_to(|mut peer| async move {
            peer.send(&reply(1)).await;
        })
        .await;
        assert_eq!(client.recv().await.unwrap(), reply(1));
        let e = client.recv().await.err().unwrap();
        assert!(matches!(e, ClientError::Closed), "{e:?}");
        assert_eq!(e.to_string(), "the daemon closed the connection");
    })
    .await;
}

#[tokio::test]
async fn a_close_in_the_middle_of_a_message_is_truncated() {
    within_timeout(async {
        let whole = encode_server(&reply(3));
        let half = whole[..whole.len() / 2].to_vec();
        let mut client = connect_to(|mut peer| async move {
            peer.write(&half).await;
        })
        .await;
        let e = client.read_message().await.err().unwrap();
        assert!(
            matches!(
                e,
                ClientError::Decode(DecodeError::Truncated { got, expected })
                    if got == whole.len() / 2 && expected == whole.len()
            ),
            "{e:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn garbage_from_the_daemon_is_a_decode_error() {
    within_timeout(async {
        let mut client = connect_to(|mut peer| async move {
            // A length prefix far over the limit.
            peer.write(&u32::MAX.to_le_bytes()).await;
        })
        .await;
        let e = client.read_message().await.err().unwrap();
        assert!(
            matches!(e, ClientError::Decode(DecodeError::TooLarge { .. })),
            "{e:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_read_loses_no_bytes() {
    within_timeout(async {
        let whole = encode_server(&reply(5));
        let (first, rest) = whole.split_at(3);
        let (first, rest) = (first.to_vec(), rest.to_vec());
        let (go_on, wait) = oneshot::channel::<()>();
        let mut client = connect_to(|mut peer| async move {
            peer.write(&first).await;
            wait.await.unwrap();
            peer.write(&rest).await;
            peer.send(&reply(6)).await;
        })
        .await;
        // The read is cut short while part of the message has arrived.
        let cut = tokio::time::timeout(Duration::from_millis(50), client.read_message()).await;
        assert!(cut.is_err(), "a message arrived from 3 bytes: {cut:?}");
        go_on.send(()).unwrap();
        assert_eq!(client.recv().await.unwrap(), reply(5));
        assert_eq!(client.recv().await.unwrap(), reply(6));
    })
    .await;
}

#[tokio::test]
async fn raw_bytes_arrive_as_they_are_and_messages_framed() {
    within_timeout(async {
        let end = ClientMessage::MatchEnd(MatchEnd {
            frame: 100,
            method: 2,
        });
        let mut expected = b"GET / HTTP/1.1\r\n\r\n".to_vec();
        expected.extend(encode_client(&end));
        let want = expected.clone();
        let (addr, daemon) = daemon(|mut peer| async move {
            let mut got = Vec::new();
            peer.stream.read_to_end(&mut got).await.unwrap();
            assert_eq!(got, want);
        })
        .await;
        let mut client = Client::connect(addr).await.unwrap();
        client.send_raw(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        client.send(&end).await.unwrap();
        client.shutdown().await.unwrap();
        daemon.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn finish_counts_what_the_daemon_sent_beyond_what_was_read() {
    within_timeout(async {
        let extra = encode_server(&reply(2)).len() + 5;
        let mut client = connect_to(|mut peer| async move {
            peer.send(&reply(1)).await;
            peer.send(&reply(2)).await;
            peer.write(&[1, 2, 3, 4, 5]).await;
            // The daemon closes once the client has finished sending.
            assert_eq!(peer.read().await, None);
        })
        .await;
        assert_eq!(client.recv().await.unwrap(), reply(1));
        assert_eq!(client.finish().await.unwrap(), extra);
    })
    .await;
}

#[tokio::test]
async fn finish_counts_nothing_when_every_message_was_read() {
    within_timeout(async {
        let mut client = connect_to(|mut peer| async move {
            peer.send(&reply(1)).await;
            assert_eq!(peer.read().await, None);
        })
        .await;
        assert_eq!(client.recv().await.unwrap(), reply(1));
        assert_eq!(client.finish().await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_daemon_names_its_address() {
    within_timeout(async {
        // A port that was just free: nothing listens on it now.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let e = Client::connect(addr).await.err().unwrap();
        assert!(matches!(e, ClientError::Connect { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("connecting to the daemon at {addr}"));
        assert!(std::error::Error::source(&e).is_some());
    })
    .await;
}
