//! A protocol client for tests: sends messages or raw bytes, reads replies.

use std::net::SocketAddr;

use bytes::BytesMut;
use fourstock_proto::{
    decode_server, encode_client, ClientMessage, ErrorCode, ErrorMessage, Frame, FrameDecoder,
    FrameReply, Hello, PortRequest, ServerMessage, Welcome, MAGIC, PROTOCOL_VERSION,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct TestClient {
    pub stream: TcpStream,
    buffer: BytesMut,
}

impl TestClient {
    pub async fn connect(addr: SocketAddr) -> TestClient {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the daemon");
        stream.set_nodelay(true).expect("nodelay");
        TestClient {
            stream,
            buffer: BytesMut::new(),
        }
    }

    /// Connects and completes a handshake for `ports` as (port, character).
    pub async fn handshake(addr: SocketAddr, ports: &[(u8, u8)]) -> (TestClient, Welcome) {
        let mut client = TestClient::connect(addr).await;
        let welcome = client.hello(hello(ports)).await;
        (client, welcome)
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        self.send_raw(&encode_client(message)).await;
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .await
            .expect("write to the daemon");
    }

    /// The next message, or `None` at end of stream.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        let decoder = FrameDecoder::new();
        loop {
            if let Some(payload) = decoder
                .next_payload(&mut self.buffer)
                .expect("server framing")
            {
                return Some(decode_server(&payload).expect("server message decodes"));
            }
            let n = self.stream.read_buf(&mut self.buffer).await.unwrap_or(0);
            if n == 0 {
                assert!(self.buffer.is_empty(), "server closed mid-message");
                return None;
            }
        }
    }

    pub async fn hello(&mut self, hello: Hello) -> Welcome {
        self.send(&ClientMessage::Hello(hello)).await;
        match self.recv().await {
            Some(ServerMessage::Welcome(welcome)) => welcome,
            other => panic!("expected Welcome, got {other:?}"),
        }
    }

    /// Sends a frame and waits for its reply.
    pub async fn frame(&mut self, frame: &Frame) -> FrameReply {
        self.send(&ClientMessage::Frame(frame.clone())).await;
        self.reply().await
    }

    pub async fn reply(&mut self) -> FrameReply {
        match self.recv().await {
            Some(ServerMessage::Reply(reply)) => reply,
            other => panic!("expected a Reply, got {other:?}"),
        }
    }

    /// Reads until an Error message and the end of the stream, and returns the error.
    pub async fn expect_error(&mut self, code: ErrorCode) -> ErrorMessage {
        let error = match self.recv().await {
            Some(ServerMessage::Error(error)) => error,
            other => panic!("expected Error {code:?}, got {other:?}"),
        };
        assert_eq!(
            ErrorCode::from_u16(error.code),
            Some(code),
            "error code; message: {}",
            error.message
        );
        assert!(!error.message.is_empty(), "errors carry a readable text");
        assert_eq!(self.recv().await, None, "the daemon closes after an error");
        error
    }
}

/// A Hello for (port, character) pairs, with no model named and no budget asked.
pub fn hello(ports: &[(u8, u8)]) -> Hello {
    Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        ports: ports
            .iter()
            .map(|&(port, character)| PortRequest {
                port,
                character,
                model: None,
                player_name: None,
            })
            .collect(),
        budget_us: None,
    }
}

/// Runs a test body under [`crate::TEST_TIMEOUT`].
pub async fn within_timeout<F: std::future::Future>(body: F) -> F::Output {
    tokio::time::timeout(crate::TEST_TIMEOUT, body)
        .await
        .expect("test timed out: the daemon or client hung")
}
