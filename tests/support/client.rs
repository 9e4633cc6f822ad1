//! A protocol client for tests: [`fourstock_client::Client`] with every
//! failure a panic, and the assertions the end-to-end tests share.

use std::net::SocketAddr;

use fourstock_client::{Client, ClientError};
use fourstock_proto::{
    ClientMessage, ErrorCode, ErrorMessage, Frame, FrameReply, Hello, PortRequest, ServerMessage,
    Welcome,
};

pub struct TestClient {
    client: Client,
}

impl TestClient {
    pub async fn connect(addr: SocketAddr) -> TestClient {
        TestClient {
            client: Client::connect(addr).await.expect("connect to the daemon"),
        }
    }

    /// Connects and completes a handshake for `ports` as (port, character).
    pub async fn handshake(addr: SocketAddr, ports: &[(u8, u8)]) -> (TestClient, Welcome) {
        let mut client = TestClient::connect(addr).await;
        let welcome = client.hello(hello(ports)).await;
        (client, welcome)
    }

    pub async fn send(&mut self, message: &ClientMessage) {
        self.client
            .send(message)
            .await
            .expect("write to the daemon");
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.client
            .send_raw(bytes)
            .await
            .expect("write to the daemon");
    }

    /// Closes the sending side; replies can still be read.
    pub async fn shutdown(&mut self) {
        self.client
            .shutdown()
            .await
            .expect("shut down the write half");
    }

    /// The next message, or `None` at end of stream.
    pub async fn recv(&mut self) -> Option<ServerMessage> {
        match self.client.read_message().await {
            Ok(message) => message,
            // A reset after the daemon's last message ends the stream too.
            Err(ClientError::Io(_)) => None,
            Err(e) => panic!("reading from the daemon: {e}"),
        }
    }

    pub async fn hello(&mut self, hello: Hello) -> Welcome {
        match self.client.hello(hello).await {
            Ok(welcome) => welcome,
            Err(e) => panic!("expected Welcome: {e}"),
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
    fourstock_client::hello(
        ports
            .iter()
            .map(|&(port, character)| PortRequest {
                port,
                character,
                model: None,
                player_name: None,
            })
            .collect(),
    )
}

/// Runs a test body under [`crate::TEST_TIMEOUT`].
pub async fn within_timeout<F: std::future::Future>(body: F) -> F::Output {
    tokio::time::timeout(crate::TEST_TIMEOUT, body)
        .await
        .expect("test timed out: the daemon or client hung")
}
