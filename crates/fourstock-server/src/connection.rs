//! A client's TCP stream as a sequence of protocol messages.
//!
//! Reading is cancel-safe, as in mini-redis: bytes are gathered in a buffer
//! owned by the connection, so a `read_message` dropped inside `select!`
//! loses nothing. The length prefix is checked against the protocol's limit
//! before the payload is awaited. Closing lingers briefly so that a peer
//! still sending does not turn the close into a reset (see `close`).

use std::time::Duration;

use bytes::BytesMut;
use fourstock_proto::{
    decode_client, encode_server_into, ClientMessage, DecodeError, ErrorCode, ErrorMessage,
    MessageDecoder, ServerMessage,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
}

impl Connection {
    pub fn new(stream: TcpStream) -> Connection {
        // Replies are small and latency-bound: never wait to coalesce them.
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            buffer: BytesMut::with_capacity(8 * 1024),
            decoder: MessageDecoder::new(),
            out: Vec::with_capacity(256),
        }
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

    /// Sends one message: one write, nothing held back.
    pub async fn write_message(&mut self, message: &ServerMessage) -> std::io::Result<()> {
        encode_server_into(message, &mut self.out);
        self.stream.write_all(&self.out).await
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
    /// and thrown away until it closes too, for at most [`LINGER`] and
    /// [`MAX_LINGER_BYTES`]. A socket dropped with unread input makes the
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
        let _ = tokio::time::timeout(LINGER, drain).await;
    }
}
