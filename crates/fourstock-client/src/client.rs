//! The protocol from the client's side: connect, say `Hello`, then send
//! messages and read the daemon's. What a caller does with the replies
//! (pacing a game, checking echoes, asserting in a test) is its own.

use std::net::SocketAddr;

use fourstock_proto::{
    encode_client, ClientMessage, Hello, PortRequest, ServerMessage, Welcome, MAGIC,
    PROTOCOL_VERSION,
};
use tokio::net::TcpStream;

use crate::connection::Connection;
use crate::ClientError;

/// One connection to the daemon.
pub struct Client {
    connection: Connection,
}

impl Client {
    /// Connects to the daemon, with Nagle's algorithm off: every message is
    /// one frame's worth and goes out at once.
    pub async fn connect(addr: SocketAddr) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        Client::from_stream(stream)
    }

    /// A client on a stream already connected to the daemon, for a caller
    /// that sets its own socket options first (a small receive buffer, in
    /// a test). Nagle's algorithm is turned off as by [`Client::connect`].
    pub fn from_stream(stream: TcpStream) -> Result<Client, ClientError> {
        stream.set_nodelay(true)?;
        Ok(Client {
            connection: Connection::new(stream),
        })
    }

    /// Connects and completes the handshake.
    pub async fn handshake(
        addr: SocketAddr,
        hello: Hello,
    ) -> Result<(Client, Welcome), ClientError> {
        let mut client = Client::connect(addr).await?;
        let welcome = client.hello(hello).await?;
        Ok((client, welcome))
    }

    /// Sends `hello` and waits for the Welcome; a refusal is
    /// [`ClientError::Refused`].
    pub async fn hello(&mut self, hello: Hello) -> Result<Welcome, ClientError> {
        self.send(&ClientMessage::Hello(hello)).await?;
        match self.recv().await? {
            ServerMessage::Welcome(welcome) => Ok(welcome),
            other => Err(ClientError::Unexpected {
                expected: "Welcome",
                got: Box::new(other),
            }),
        }
    }

    pub async fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.connection.write(&encode_client(message)).await
    }

    /// Sends bytes as they are, framed or not.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.connection.write(bytes).await
    }

    /// The next message as the daemon sent it, Error messages included, or
    /// `None` if the daemon closed the connection between messages.
    /// Cancel-safe: a read cut short loses no bytes.
    pub async fn read_message(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        self.connection.read_message().await
    }

    /// The next message; an Error message is [`ClientError::Refused`] and
    /// the end of the stream [`ClientError::Closed`]. Cancel-safe.
    pub async fn recv(&mut self) -> Result<ServerMessage, ClientError> {
        match self.read_message().await? {
            Some(ServerMessage::Error(e)) => Err(ClientError::Refused {
                code: e.code,
                message: e.message,
            }),
            Some(message) => Ok(message),
            None => Err(ClientError::Closed),
        }
    }

    /// Closes the sending side: the daemon reads the end of the stream,
    /// and replies can still be read.
    pub async fn shutdown(&mut self) -> Result<(), ClientError> {
        self.connection.shutdown().await
    }

    /// Closes the sending side, reads to the end of the stream and returns
    /// how many bytes the daemon sent that were never read as messages.
    pub async fn finish(mut self) -> Result<usize, ClientError> {
        self.connection.shutdown().await?;
        self.connection.unread_until_eof().await
    }
}

/// A Hello asking for `ports`, in this build's protocol version, with no
/// latency budget asked.
pub fn hello(ports: Vec<PortRequest>) -> Hello {
    Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        token: None,
        ports,
        budget_us: None,
    }
}
