//! Running peppi on one file without letting it take the process down.
//!
//! peppi asserts, unwraps and indexes on what it reads, so a malformed file
//! can panic inside it. This module owns the guards: a size limit checked
//! before anything is allocated, a nesting limit on the UBJSON metadata
//! (peppi reads it recursively, and a stack overflow cannot be caught), and
//! `catch_unwind` around every call into peppi.

use std::any::Any;
use std::fs::File;
use std::io::{Cursor, Read};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use peppi::game::immutable::Game;

use crate::error::Reason;

/// The largest file read, in bytes. An eight-minute game is a few MB and
/// netplay rollbacks add little; anything this large is not a replay.
pub const MAX_REPLAY_BYTES: u64 = 256 * 1024 * 1024;

/// Deepest metadata nesting handed to peppi. Real replays nest 4 levels.
const MAX_METADATA_DEPTH: usize = 64;

/// A replay's first bytes: `{`, the key "raw", an array of bytes (`[$U`)
/// whose length (`#l`, a big-endian i32) follows.
const RAW_HEADER: &[u8] = b"{U\x03raw[$U#l";

/// The UBJSON key that opens the metadata map: `U`, length 8, "metadata", `{`.
const METADATA_KEY: &[u8] = b"U\x08metadata{";

/// Reads and parses one replay file.
pub(crate) fn parse(path: &Path) -> Result<Game, Reason> {
    parse_bytes(&read_bounded(path)?)
}

/// Parses a replay already in memory, behind the same guards.
pub(crate) fn parse_bytes(bytes: &[u8]) -> Result<Game, Reason> {
    check_raw_length(bytes)?;
    check_metadata_depth(bytes)?;
    contain(|| peppi::io::slippi::read(Cursor::new(bytes), None))?
        .map_err(|e| Reason::Corrupt(e.to_string()))
}

/// Runs `f`, turning a panic into [`Reason::Panicked`].
///
/// The default panic hook still prints the panic to stderr; the hook is
/// process-wide, so it is left alone rather than swapped under other threads.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, Reason> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| Reason::Panicked(message(&*payload)))
}

fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, Reason> {
    let file = File::open(path).map_err(Reason::Io)?;
    let len = file.metadata().map_err(Reason::Io)?.len();
    let too_large = |bytes| Reason::TooLarge {
        bytes,
        limit: MAX_REPLAY_BYTES,
    };
    if len > MAX_REPLAY_BYTES {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_REPLAY_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(Reason::Io)?;
    if bytes.len() as u64 > MAX_REPLAY_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Refuses an event stream longer than the file. peppi reserves the bytes
/// a replay says are left before it reads them, so a length field of 3 GB
/// in a 3 KB file would cost 3 GB (found by the `slp` fuzz target).
fn check_raw_length(bytes: &[u8]) -> Result<(), Reason> {
    let Some(rest) = bytes.strip_prefix(RAW_HEADER) else {
        return Ok(()); // Not a replay: peppi says so itself.
    };
    let Some((len, events)) = rest.split_first_chunk::<4>() else {
        return Ok(());
    };
    let len = u32::from_be_bytes(*len) as usize;
    if len > events.len() {
        return Err(Reason::Corrupt(format!(
            "the event stream claims {len} bytes; the file holds {} after the header",
            events.len()
        )));
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

    #[test]
    fn an_event_stream_longer_than_the_file_is_refused_before_peppi() {
        let mut bytes = RAW_HEADER.to_vec();
        bytes.extend_from_slice(&0xDD00_0B85u32.to_be_bytes());
        bytes.extend_from_slice(&[0x35; 64]);
        match parse_bytes(&bytes) {
            Err(Reason::Corrupt(m)) => assert!(m.contains("claims 3707767685 bytes"), "{m}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        // A length that fits is left to peppi.
        assert_eq!(
            check_raw_length(&bytes[..RAW_HEADER.len() + 2]).ok(),
            Some(())
        );
    }

    #[test]
    fn panics_are_contained() {
        let r: Result<(), Reason> = contain(|| panic!("boom {}", 7));
        match r {
            Err(Reason::Panicked(m)) => assert_eq!(m, "boom 7"),
            other => panic!("expected a contained panic, got {other:?}"),
        }
    }
}
