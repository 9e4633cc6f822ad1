//! Messages over one TCP socket: whole messages out, whole messages in.
//!
//! The read buffer belongs to the connection, not to a call, so a read that
//! is cancelled (a timeout, a `select!`) loses nothing: the bytes already
//! read stay for the next call, as in tokio's mini-redis `Connection`.

use bytes::BytesMut;
use fourstock_proto::{decode_server, MessageDecoder, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::ClientError;

pub(crate) struct Connection {
    stream: TcpStream,
    buffer: BytesMut,
    decoder: MessageDecoder,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            buffer: BytesMut::with_capacity(4096),
            decoder: MessageDecoder::new(),
        }
    }

    pub(crate) async fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        Ok(())
    }

    /// The next message, or `None` if the stream ended between messages.
    /// Cancel-safe.
    pub(crate) async fn read_message(&mut self) -> Result<Option<ServerMessage>, ClientError> {
        loop {
            if let Some(payload) = self.decoder.next_payload(&mut self.buffer)? {
                return Ok(Some(decode_server(&payload)?));
            }
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return match self.decoder.at_eof(&self.buffer) {
                    None => Ok(None),
                    Some(truncated) => Err(truncated.into()),
                };
            }
        }
    }

    pub(crate) async fn shutdown(&mut self) -> Result<(), ClientError> {
        self.stream.shutdown().await?;
        Ok(())
    }

    /// Reads to the end of the stream and returns how many bytes arrived
    /// that no read took as a message.
    pub(crate) async fn unread_until_eof(&mut self) -> Result<usize, ClientError> {
        let mut rest = Vec::new();
        self.stream.read_to_end(&mut rest).await?;
        Ok(self.buffer.len() + rest.len())
    }
}
