//! Encoding, decoding and framing.
//!
//! A message on the wire is `u32 length (LE) | payload`, where the payload is
//! bincode 2 with fixed-width little-endian integers. [`MessageDecoder`] pulls
//! whole messages out of a byte buffer as they arrive and checks the length
//! prefix against [`MAX_MESSAGE_BYTES`] before reserving anything.

use bytes::{Buf, BytesMut};

use crate::error::DecodeError;
use crate::message::{ClientMessage, ServerMessage};
use crate::validate;
use crate::MAX_MESSAGE_BYTES;

/// Bytes in the length prefix.
pub const LENGTH_PREFIX: usize = 4;

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<{ MAX_MESSAGE_BYTES as usize }>()
}

fn encode<T: serde::Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(message, &mut out);
    out
}

/// Replaces `out`'s contents with `message` and its length prefix.
fn encode_into<T: serde::Serialize>(message: &T, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0; LENGTH_PREFIX]);
    // Serializing plain data into a Vec cannot fail, and every message the
    // daemon builds is far below the limit.
    bincode::serde::encode_into_std_write(message, out, config())
        .expect("encoding a message into memory");
    let len = (out.len() - LENGTH_PREFIX) as u32;
    out[..LENGTH_PREFIX].copy_from_slice(&len.to_le_bytes());
}

fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    let (message, used) = bincode::serde::decode_from_slice(payload, config())
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if used != payload.len() {
        return Err(DecodeError::Trailing {
            trailing: payload.len() - used,
        });
    }
    Ok(message)
}

/// A client message with its length prefix.
pub fn encode_client(message: &ClientMessage) -> Vec<u8> {
    encode(message)
}

/// A server message with its length prefix.
pub fn encode_server(message: &ServerMessage) -> Vec<u8> {
    encode(message)
}

/// [`encode_server`] into a buffer the caller reuses: `out` is cleared
/// first, and keeps its capacity for the next message.
pub fn encode_server_into(message: &ServerMessage, out: &mut Vec<u8>) {
    encode_into(message, out)
}

/// Decodes and validates one client payload (without the length prefix).
///
/// A `Hello`'s magic and version are checked before the rest is decoded: a
/// client of another protocol version lays the rest out differently, and
/// must be told `UnsupportedVersion`, not `Malformed`.
pub fn decode_client(payload: &[u8]) -> Result<ClientMessage, DecodeError> {
    if let Some((magic, version)) = hello_header(payload) {
        validate::magic_and_version(magic, version)?;
    }
    let message = decode(payload)?;
    validate::client_message(&message)?;
    Ok(message)
}

/// The magic and version of a payload that starts like a `Hello` (variant
/// tag 0, then 4 bytes of magic and a u16 version).
fn hello_header(payload: &[u8]) -> Option<([u8; 4], u16)> {
    let header = payload.get(..10)?;
    if header[..4] != 0u32.to_le_bytes() {
        return None;
    }
    let magic = [header[4], header[5], header[6], header[7]];
    Some((magic, u16::from_le_bytes([header[8], header[9]])))
}

/// Decodes one server payload (without the length prefix).
pub fn decode_server(payload: &[u8]) -> Result<ServerMessage, DecodeError> {
    decode(payload)
}

/// Splits a byte stream into message payloads (a game frame is one kind of
/// message; this splits messages).
#[derive(Debug)]
pub struct MessageDecoder {
    max: u32,
}

impl Default for MessageDecoder {
    /// The same as [`MessageDecoder::new`]. (A derived default would set the
    /// limit to 0 and refuse every non-empty message as too large.)
    fn default() -> Self {
        Self::new()
    }
}

impl MessageDecoder {
    pub fn new() -> Self {
        MessageDecoder {
            max: MAX_MESSAGE_BYTES,
        }
    }

    /// Takes one whole payload off the front of `buf`, if it has arrived.
    ///
    /// An oversized length prefix is an error at once, before the payload is
    /// read or any room is reserved for it.
    pub fn next_payload(&self, buf: &mut BytesMut) -> Result<Option<BytesMut>, DecodeError> {
        if buf.len() < LENGTH_PREFIX {
            return Ok(None);
        }
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if len > self.max {
            return Err(DecodeError::TooLarge { len, max: self.max });
        }
        let total = LENGTH_PREFIX + len as usize;
        if buf.len() < total {
            return Ok(None);
        }
        buf.advance(LENGTH_PREFIX);
        Ok(Some(buf.split_to(len as usize)))
    }

    /// The error for a stream that ended with `buf` still holding part of a
    /// message, or `None` if it ended cleanly between messages.
    pub fn at_eof(&self, buf: &BytesMut) -> Option<DecodeError> {
        if buf.is_empty() {
            return None;
        }
        let expected = if buf.len() >= LENGTH_PREFIX {
            LENGTH_PREFIX + u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize
        } else {
            LENGTH_PREFIX
        };
        Some(DecodeError::Truncated {
            got: buf.len(),
            expected,
        })
    }
}
