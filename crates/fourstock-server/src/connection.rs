//! A client's TCP stream as a sequence of protocol messages.
//!
//! Reading is cancel-safe, as in mini-redis: bytes are gathered in a buffer
//! owned by the connection, so a `read_message` dropped inside `select!`
//! loses nothing. The length prefix is checked against the protocol's limit
//! before the payload is awaited. Closing lingers briefly so that a peer
//! still sending does not turn the close into a reset (see `close`).
//!
//! Every write has a deadline: a peer that stops reading fills its
//! receive window and the daemon's send buffer, and a write with no
//! deadline would then wait for it forever, deaf to shutdown. A write
//! that misses its deadline breaks the connection for writing, since part
//! of a message may have left; every later write fails at once. Once the
//! daemon shuts down, everything the connection still does, close
//! included, is over within [`SHUTDOWN_GRACE`]: a write waiting for room
//! hears the signal itself, since the session is not listening then.
//! TCP keepalive finds peers that vanished without a word.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use fourstock_proto::{
    decode_client, encode_server_into, ClientMessage, DecodeError, ErrorCode, ErrorMessage,
    MessageDecoder, ServerMessage,
};
use fourstock_telemetry::Telemetry;
use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::shutdown::Shutdown;

/// The longest error text sent, in bytes; far below the message limit.
pub const MAX_ERROR_TEXT: usize = 1024;

/// `text` cut to [`MAX_ERROR_TEXT`] bytes (on a character boundary, with
/// "..." after the cut): what the daemon sends and logs of a text that may
/// quote the peer.
pub(crate) fn cap_text(mut text: String) -> String {
    if text.len() > MAX_ERROR_TEXT {
        let mut cut = MAX_ERROR_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// How long a closing connection waits for the peer to close its side.
pub const LINGER: Duration = Duration::from_millis(500);

/// The most a closing connection reads and throws away while it waits.
pub const MAX_LINGER_BYTES: usize = 1 << 20;

/// How long a write may wait for the peer to make room, by default.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a connection may go on once the daemon shuts down: time to
/// answer what it accepted, say why it ends and close. A client that reads
/// gets every reply in far less; one that stopped reading is given up on.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(1500);

/// Keepalive probes start after this long without traffic, then go every
/// [`KEEPALIVE_INTERVAL`]; [`KEEPALIVE_RETRIES`] unanswered probes end the
/// connection. A peer that vanished is found within about a minute.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
pub const KEEPALIVE_RETRIES: u32 = 3;

/// Why reading a message failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A framed connection to one client.
pub struct Connection {
    stream: TcpStream,
    buffer: BytesMut,
    decoder: MessageDecoder,
    /// The message being written, reused so a reply allocates nothing.
    out: Vec<u8>,
    /// How long one write may wait for room.
    write_timeout: Duration,
    /// When everything the connection still does must be over, once set.
    deadline: Option<Instant>,
    /// Why writing is over, after a write failed or missed its deadline.
    broken: Option<std::io::ErrorKind>,
    /// The daemon's shutdown signal, heard while a write waits for room.
    shutdown: Option<Shutdown>,
    /// Counts the writes that had to wait for the peer.
    telemetry: Arc<Telemetry>,
}

impl Connection {
    /// A connection whose writes wait at most `write_timeout` for room;
    /// `telemetry` counts the writes that wait at all.
    pub fn new(
        stream: TcpStream,
        write_timeout: Duration,
        telemetry: Arc<Telemetry>,
    ) -> Connection {
        // Replies are small and latency-bound: never wait to coalesce them.
        let _ = stream.set_nodelay(true);
        let keepalive = TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_RETRIES);
        if let Err(e) = SockRef::from(&stream).set_tcp_keepalive(&keepalive) {
            tracing::debug!("keepalive not set: {e}");
        }
        Connection {
            stream,
            buffer: BytesMut::with_capacity(8 * 1024),
            decoder: MessageDecoder::new(),
            out: Vec::with_capacity(256),
            write_timeout,
            deadline: None,
            broken: None,
            shutdown: None,
            telemetry,
        }
    }

    /// Listens for `shutdown` while a write waits for room.
    pub fn watch(&mut self, shutdown: Shutdown) {
        if shutdown.is_shutdown() {
            self.shutting_down();
        }
        self.shutdown = Some(shutdown);
    }

    /// The daemon is shutting down: everything the connection still does,
    /// writes and the close's linger, is over within [`SHUTDOWN_GRACE`]
    /// of the first call.
    pub fn shutting_down(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + SHUTDOWN_GRACE);
        }
    }

    /// When everything must be over, once the daemon is shutting down.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The next message, or `None` when the client closed cleanly between
    /// messages. Cancel-safe.
    pub async fn read_message(&mut self) -> Result<Option<ClientMessage>, ReadError> {
        loop {
            if let Some(payload) = self.decoder.next_payload(&mut self.buffer)? {
                return Ok(Some(decode_client(&payload)?));
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return match self.decoder.at_eof(&self.buffer) {
                    None => Ok(None),
                    Some(error) => Err(error.into()),
                };
            }
        }
    }

    /// Sends one message: one write, nothing held back, over by the write
    /// timeout or the deadline, whichever comes first. A failed or late
    /// write fails every later one at once.
    pub async fn write_message(&mut self, message: &ServerMessage) -> std::io::Result<()> {
        if let Some(kind) = self.broken {
            return Err(std::io::Error::new(kind, "an earlier write failed"));
        }
        encode_server_into(message, &mut self.out);
        // Almost always the whole message fits in the send buffer at once.
        let sent = match self.stream.try_write(&self.out) {
            Ok(sent) if sent == self.out.len() => return Ok(()),
            Ok(sent) => sent,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) => {
                self.broken = Some(e.kind());
                return Err(e);
            }
        };
        self.telemetry.write_waited();
        let mut until = Instant::now() + self.write_timeout;
        if let Some(deadline) = self.deadline {
            until = until.min(deadline);
        }
        let rest = self.stream.write_all(&self.out[sent..]);
        tokio::pin!(rest);
        let result = loop {
            let listening = self.deadline.is_none() && self.shutdown.is_some();
            let shutdown = async {
                match &mut self.shutdown {
                    Some(shutdown) if listening => shutdown.recv().await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                written = &mut rest => break written,
                _ = tokio::time::sleep_until(until) => {
                    break Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the peer stopped reading: a message waited past its write deadline",
                    ));
                }
                _ = shutdown => {
                    let deadline = Instant::now() + SHUTDOWN_GRACE;
                    self.deadline = Some(deadline);
                    until = until.min(deadline);
                }
            }
        };
        if let Err(e) = &result {
            self.broken = Some(e.kind());
        }
        result
    }

    /// Sends an error message; the caller closes the connection after it.
    /// The text is cut to [`MAX_ERROR_TEXT`] bytes: it may quote the peer.
    pub async fn write_error(&mut self, code: ErrorCode, message: String) -> std::io::Result<()> {
        self.write_message(&ServerMessage::Error(ErrorMessage {
            code: code as u16,
            message: cap_text(message),
        }))
        .await
    }

    /// Ends the connection so that the peer receives everything written.
    ///
    /// The write half is closed first, so the peer reads the last message
    /// and then the end of the stream. What the peer still sends is read
    /// and thrown away until it closes too, for at most [`LINGER`] (or
    /// until the deadline) and [`MAX_LINGER_BYTES`]. A socket dropped with unread input makes the
    /// kernel send a reset instead of the end of the stream, and a reset
    /// throws away the replies still queued for the peer: those it had not
    /// yet read, and the Error that says why the session ended.
    pub async fn close(&mut self) {
        if self.stream.shutdown().await.is_err() {
            return;
        }
        let stream = &mut self.stream;
        let drain = async {
            let mut sink = [0u8; 4096];
            let mut discarded = 0usize;
            while discarded <= MAX_LINGER_BYTES {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => discarded += n,
                }
            }
        };
        let mut until = Instant::now() + LINGER;
        if let Some(deadline) = self.deadline {
            until = until.min(deadline);
        }
        let _ = tokio::time::timeout_at(until, drain).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_probes_a_silent_peer_with_keepalive() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let conn = Connection::new(stream, WRITE_TIMEOUT, Arc::new(Telemetry::new()));
        let socket = SockRef::from(&conn.stream);
        assert!(socket.keepalive().unwrap(), "SO_KEEPALIVE is on");
        assert_eq!(socket.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
        assert_eq!(socket.tcp_keepalive_interval().unwrap(), KEEPALIVE_INTERVAL);
        assert_eq!(socket.tcp_keepalive_retries().unwrap(), KEEPALIVE_RETRIES);
        drop(client);
    }
}
