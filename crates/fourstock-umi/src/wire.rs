//! UMI's framing (spec §1): a little-endian `u32` length, then that many
//! bytes of one msgpack map. Reads and writes whole messages on blocking
//! streams; what the bytes mean is [`crate::message`]'s.

use std::io::{ErrorKind, Read, Write};

use crate::error::UmiError;

/// The largest message this bot reads. umi-melee allows 256 MiB; a legal
/// `obs` of 4,096 games is 3.2 MB, so 64 MiB leaves room while a garbled
/// length cannot make the bot allocate a quarter of a gigabyte.
pub const MAX_MESSAGE: u32 = 64 << 20;

/// Reads one message body; `Ok(None)` when the peer closed the stream
/// cleanly between messages. `body` grows as the bytes arrive, so a
/// length prefix alone (garbled, or a peer that stops) costs no memory.
pub fn read_message(reader: &mut impl Read, body: &mut Vec<u8>) -> Result<Option<()>, UmiError> {
    let mut prefix = [0u8; 4];
    match reader.read_exact(&mut prefix) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(prefix);
    if len > MAX_MESSAGE {
        return Err(UmiError::TooLarge(len));
    }
    body.clear();
    let got = reader.take(len.into()).read_to_end(body)?;
    if got < len as usize {
        return Err(std::io::Error::new(
            ErrorKind::UnexpectedEof,
            format!("the stream ended {got} bytes into a {len}-byte message"),
        )
        .into());
    }
    Ok(Some(()))
}

/// Writes one message: its length, then `body`, in one write.
pub fn write_message(
    writer: &mut impl Write,
    body: &[u8],
    scratch: &mut Vec<u8>,
) -> std::io::Result<()> {
    scratch.clear();
    scratch.extend_from_slice(&(body.len() as u32).to_le_bytes());
    scratch.extend_from_slice(body);
    writer.write_all(scratch)?;
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_and_a_clean_close_is_none() {
        let mut bytes = Vec::new();
        write_message(&mut bytes, b"\x81\xa1t\xa5ready", &mut Vec::new()).unwrap();
        let mut reader = bytes.as_slice();
        let mut body = Vec::new();
        assert!(read_message(&mut reader, &mut body).unwrap().is_some());
        assert_eq!(body, b"\x81\xa1t\xa5ready");
        assert!(read_message(&mut reader, &mut body).unwrap().is_none());
    }

    #[test]
    fn an_oversized_length_is_refused_before_allocating() {
        let bytes = (MAX_MESSAGE + 1).to_le_bytes();
        let err = read_message(&mut bytes.as_slice(), &mut Vec::new()).unwrap_err();
        assert!(matches!(err, UmiError::TooLarge(n) if n == MAX_MESSAGE + 1));
    }

    #[test]
    fn a_length_alone_reserves_nothing() {
        let mut bytes = MAX_MESSAGE.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        let mut body = Vec::new();
        let err = read_message(&mut bytes.as_slice(), &mut body).unwrap_err();
        assert!(err.to_string().contains("3 bytes into"), "{err}");
        assert!(body.capacity() < 1 << 20, "reserved {}", body.capacity());
    }

    #[test]
    fn a_truncated_body_is_an_error() {
        let mut bytes = 10u32.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"abc");
        assert!(matches!(
            read_message(&mut bytes.as_slice(), &mut Vec::new()),
            Err(UmiError::Io(_))
        ));
    }
}
