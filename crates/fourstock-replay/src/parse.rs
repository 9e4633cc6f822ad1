//! Running peppi on one file without letting it take the process down.
//!
//! peppi asserts, unwraps and indexes on what it reads, so a malformed file
//! can panic inside it, and it sizes some allocations by header fields
//! before it reads what they describe. This module owns the guards: a size
//! limit checked before the file is read, the header fields peppi
//! allocates by checked against the file's length ([`check_sizes`]), a
//! nesting limit on the UBJSON metadata (peppi reads it recursively, and a
//! stack overflow cannot be caught), and every call into peppi made
//! through [`contain`], which catches a panic without printing it.
//!
//! What peppi 2.1 allocates from the file before reading it: after the
//! Game End it allocates the rest of the stream the `raw` length claims
//! (a `u32`, so up to 4 GiB); every event, a buffer of the size the Event
//! Payloads table gives its code (a `u16`); the table itself, by a `u8`;
//! metadata strings, by a `u8` length each. Frame data grows one event at
//! a time, so the file's length bounds it. The first two are checked here;
//! the `u8` sizes cannot reach past 255 bytes.

use std::io::Cursor;
use std::path::Path;

use fourstock_proto::file::{self, FileError};
use peppi::game::immutable::Game;

use crate::contain::contain;
use crate::error::Reason;

/// The largest file read: 128 MiB. The largest of the 106 real replays
/// in the test set is 4.2 MB (2 min 39 s of Ice Climbers against Falco,
/// about 26 KB a second). The worst an eight-minute game can reach: 29,000
/// frames of Ice Climbers on all four ports (8 characters, each a 64-byte
/// pre and an 81-byte post event) with 15 items every frame (43 bytes
/// each), about 1,830 bytes a frame, 53 MB; twice that for netplay
/// rollbacks re-sending every frame is 106 MB. At the real rate the cap
/// still holds an 85-minute two-player game.
pub const MAX_REPLAY_BYTES: u64 = 128 << 20;

/// Deepest metadata nesting handed to peppi. Real replays nest 4 levels.
const MAX_METADATA_DEPTH: usize = 64;

/// The UBJSON key that opens the metadata map: `U`, length 8, "metadata", `{`.
const METADATA_KEY: &[u8] = b"U\x08metadata{";

/// Parses a replay's bytes (see [`read_bounded`]) behind the guards.
pub(crate) fn parse_bytes(bytes: &[u8]) -> Result<Game, Reason> {
    check_sizes(bytes)?;
    check_metadata_depth(bytes)?;
    contain(|| peppi::io::slippi::read(Cursor::new(bytes), None))?
        .map_err(|e| Reason::Corrupt(e.to_string()))
}

/// A replay file's bytes, if it is under [`MAX_REPLAY_BYTES`].
pub(crate) fn read_bounded(path: &Path) -> Result<Vec<u8>, Reason> {
    file::read_capped(path, MAX_REPLAY_BYTES, "a replay").map_err(|e| match e {
        FileError::Io { source, .. } => Reason::Io(source),
        FileError::TooLarge { size, cap, .. } => Reason::TooLarge {
            bytes: size,
            limit: cap,
        },
    })
}

/// What every replay opens with: `{`, `U\x03raw` and `[$U#l`.
const SIGNATURE: &[u8] = b"{U\x03raw[$U#l";
/// Where the `raw` length sits: after the signature.
const RAW_LENGTH_AT: usize = SIGNATURE.len();
/// Where the raw event stream starts: after the big-endian `u32` length.
const RAW_AT: usize = RAW_LENGTH_AT + 4;
/// The Event Payloads event's code; it opens the raw stream.
const PAYLOADS: u8 = 0x35;

/// Refuses a file whose `raw` length, or any size in its Event Payloads
/// table, claims more bytes than the file holds: peppi would allocate
/// that much before finding out. A file that is not a replay at all, or
/// too short to hold these fields, is left to peppi, which refuses it
/// itself and says why.
fn check_sizes(bytes: &[u8]) -> Result<(), Reason> {
    if !bytes.starts_with(SIGNATURE) {
        return Ok(());
    }
    let Some(&[a, b, c, d]) = bytes.get(RAW_LENGTH_AT..RAW_AT) else {
        return Ok(());
    };
    let claimed = u32::from_be_bytes([a, b, c, d]) as usize;
    let after = &bytes[RAW_AT..];
    if claimed > after.len() {
        return Err(Reason::Oversized {
            field: "raw length".into(),
            claimed: claimed as u64,
            available: after.len() as u64,
        });
    }
    // 0: an in-progress replay, whose events run to the end of the file.
    let raw = if claimed == 0 {
        after
    } else {
        &after[..claimed]
    };
    let (Some(&PAYLOADS), Some(&size)) = (raw.first(), raw.get(1)) else {
        return Ok(());
    };
    let table = raw
        .get(2..2 + usize::from(size).saturating_sub(1))
        .unwrap_or(&[]);
    for entry in table.chunks_exact(3) {
        let payload = u16::from_be_bytes([entry[1], entry[2]]);
        if usize::from(payload) > raw.len() {
            return Err(Reason::Oversized {
                field: format!("payload size of event {:#04x}", entry[0]),
                claimed: payload.into(),
                available: raw.len() as u64,
            });
        }
    }
    Ok(())
}

/// Refuses files whose metadata nests deeper than [`MAX_METADATA_DEPTH`].
///
/// Every place the metadata key appears is walked, so the check holds even
/// for in-progress replays whose header does not say where events end.
fn check_metadata_depth(bytes: &[u8]) -> Result<(), Reason> {
    let mut from = 0;
    while let Some(at) = find(&bytes[from..], METADATA_KEY) {
        let body = from + at + METADATA_KEY.len();
        let depth = nesting(&bytes[body..]);
        if depth > MAX_METADATA_DEPTH {
            return Err(Reason::Corrupt(format!(
                "metadata nests more than {MAX_METADATA_DEPTH} levels deep"
            )));
        }
        from = body;
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// How deep the UBJSON map starting after its `{` nests, following the
/// subset peppi reads (string keys; string, i32 and map values). Stops at
/// the first byte peppi would reject: peppi reports that itself.
fn nesting(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut i) = (1usize, 1usize, 0usize);
    loop {
        match bytes.get(i) {
            Some(b'}') => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return deepest;
                }
            }
            Some(b'U') => {
                let Some(&key_len) = bytes.get(i + 1) else {
                    return deepest;
                };
                i += 2 + key_len as usize;
                match bytes.get(i) {
                    Some(b'S') => {
                        if bytes.get(i + 1) != Some(&b'U') {
                            return deepest;
                        }
                        let Some(&len) = bytes.get(i + 2) else {
                            return deepest;
                        };
                        i += 3 + len as usize;
                    }
                    Some(b'l') => i += 5,
                    Some(b'{') => {
                        depth += 1;
                        deepest = deepest.max(depth);
                        if deepest > MAX_METADATA_DEPTH {
                            return deepest;
                        }
                        i += 1;
                    }
                    _ => return deepest,
                }
            }
            _ => return deepest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_follows_maps() {
        assert_eq!(nesting(b"}"), 1);
        assert_eq!(nesting(b"U\x01aSU\x02hiU\x01bl\0\0\0\x01}"), 1);
        assert_eq!(nesting(b"U\x01a{U\x01b{}}}"), 3);
    }

    #[test]
    fn deep_metadata_is_refused() {
        let mut bytes = METADATA_KEY.to_vec();
        for _ in 0..100_000 {
            bytes.extend_from_slice(b"U\x01a{");
        }
        assert!(matches!(
            check_metadata_depth(&bytes),
            Err(Reason::Corrupt(_))
        ));
    }

    fn header(raw_len: u32, raw: &[u8]) -> Vec<u8> {
        let mut file = SIGNATURE.to_vec();
        file.extend_from_slice(&raw_len.to_be_bytes());
        file.extend_from_slice(raw);
        file
    }

    #[test]
    fn sizes_past_the_file_are_refused_naming_the_field() {
        // Payloads: Game Start 4 bytes, Game End 1; then those two events.
        let raw = [
            &[PAYLOADS, 7, 0x36, 0, 4, 0x39, 0, 1][..],
            &[0x36, 0, 0, 0, 0, 0x39, 2],
        ]
        .concat();
        assert!(check_sizes(&header(raw.len() as u32, &raw)).is_ok());
        assert!(check_sizes(&header(0, &raw)).is_ok(), "in progress");
        assert!(check_sizes(b"{U").is_ok(), "too short: peppi's to refuse");
        match check_sizes(&header(u32::MAX, &raw)) {
            Err(Reason::Oversized {
                field,
                claimed,
                available,
            }) => {
                assert_eq!(field, "raw length");
                assert_eq!((claimed, available), (u32::MAX as u64, raw.len() as u64));
            }
            other => panic!("{other:?}"),
        }
        let mut big = raw.clone();
        big[6..8].copy_from_slice(&0xffffu16.to_be_bytes());
        match check_sizes(&header(big.len() as u32, &big)) {
            Err(error @ Reason::Oversized { .. }) => assert_eq!(
                error.to_string(),
                "the header's payload size of event 0x39 is 65535 bytes, \
                 more than the 15 bytes the file holds for it"
            ),
            other => panic!("{other:?}"),
        }
    }
}
