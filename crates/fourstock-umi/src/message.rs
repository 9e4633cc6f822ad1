//! UMI v1's messages as Rust types, and the msgpack that carries them
//! (spec §2). rmp-serde does the msgpack; this file says which fields each
//! message has. Arrays travel as raw little-endian bytes in bin fields, so
//! `obs` keeps them as bytes and checks only their lengths here.
//!
//! A body decodes in two passes: its `t` first, skipping every other field,
//! then the message that `t` names. So an unknown type, and a known type
//! with a bad field, each get an error that says so.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::error::UmiError;
use crate::frame::FRAME_SIZE;

/// The protocol version in `hello`.
pub const UMI_VERSION: &str = "1.0";

/// Every message the arena sends.
#[derive(Debug)]
pub enum ArenaMessage {
    Welcome(Welcome),
    Warmup(Obs),
    Obs(Obs),
    NewGames(NewGames),
    EndGames(EndGames),
    Shutdown,
}

impl ArenaMessage {
    pub fn kind(&self) -> &'static str {
        match self {
            ArenaMessage::Welcome(_) => "welcome",
            ArenaMessage::Warmup(_) => "warmup",
            ArenaMessage::Obs(_) => "obs",
            ArenaMessage::NewGames(_) => "new_games",
            ArenaMessage::EndGames(_) => "end_games",
            ArenaMessage::Shutdown => "shutdown",
        }
    }
}

/// The arena's answer to `hello`: the session's terms.
#[derive(Debug, Deserialize)]
pub struct Welcome {
    /// The input delay the arena applies; the bot adds none.
    pub delay: u32,
    pub max_games: u32,
    pub lanes: u32,
    /// How many `warmup` messages follow.
    pub warmups: u32,
    pub rng_seed: u64,
}

/// One batch of frames, one per game: an `obs`, or a `warmup` on scratch
/// state.
#[derive(Debug)]
pub struct Obs {
    pub seq: u64,
    pub lane: u32,
    pub games: Vec<u32>,
    pub first: Vec<bool>,
    /// `games.len()` packed frames of [`FRAME_SIZE`] bytes.
    pub frames: Vec<u8>,
}

#[derive(Deserialize)]
struct RawObs {
    seq: u64,
    lane: u32,
    games: ByteBuf,
    first: ByteBuf,
    frames: ByteBuf,
}

#[derive(Debug, Deserialize)]
pub struct NewGames {
    pub games: Vec<GameInfo>,
}

/// A game about to start.
#[derive(Debug, Deserialize)]
pub struct GameInfo {
    pub game: u32,
    /// The bot's controller port.
    pub port: u8,
    /// libmelee names (`"FOX"`): the bot's character and its opponent's.
    pub character: String,
    pub opp_character: String,
    pub stage: String,
}

#[derive(Debug, Deserialize)]
pub struct EndGames {
    pub games: Vec<GameEnd>,
}

/// A finished game; the result fields are not read.
#[derive(Debug, Deserialize)]
pub struct GameEnd {
    pub game: u32,
}

#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow)]
    t: &'a str,
}

/// Decodes one message body.
pub fn decode(body: &[u8]) -> Result<ArenaMessage, UmiError> {
    // A fixmap, map 16 or map 32: serde would also read a struct from an array.
    if !matches!(body.first(), Some(0x80..=0x8f | 0xde | 0xdf)) {
        return Err(UmiError::malformed(
            "message",
            "a message must be a msgpack map",
        ));
    }
    let tag: Tag = rmp_serde::from_slice(body)
        .map_err(|e| UmiError::malformed("message", format!("no string field 't' ({e})")))?;
    let kind = tag.t;
    let fields = |e: rmp_serde::decode::Error| UmiError::malformed(kind, e);
    Ok(match kind {
        "welcome" => ArenaMessage::Welcome(rmp_serde::from_slice(body).map_err(fields)?),
        "warmup" => ArenaMessage::Warmup(obs(kind, rmp_serde::from_slice(body).map_err(fields)?)?),
        "obs" => ArenaMessage::Obs(obs(kind, rmp_serde::from_slice(body).map_err(fields)?)?),
        "new_games" => ArenaMessage::NewGames(rmp_serde::from_slice(body).map_err(fields)?),
        "end_games" => ArenaMessage::EndGames(rmp_serde::from_slice(body).map_err(fields)?),
        "shutdown" => ArenaMessage::Shutdown,
        other => return Err(UmiError::UnknownMessage(other.to_string())),
    })
}

/// An `obs`'s arrays, checked against each other.
fn obs(kind: &str, raw: RawObs) -> Result<Obs, UmiError> {
    let seq = raw.seq;
    if !raw.games.len().is_multiple_of(4) {
        return Err(UmiError::BadArray(format!(
            "{kind} seq {seq}: games holds {} bytes, not a whole number of u32",
            raw.games.len()
        )));
    }
    let games: Vec<u32> = raw
        .games
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let n = games.len();
    if raw.first.len() != n || raw.frames.len() != n * FRAME_SIZE {
        return Err(UmiError::BadArray(format!(
            "{kind} seq {seq}: {n} games, {} first flags and {} frame bytes (expected {} = {n} x {FRAME_SIZE})",
            raw.first.len(),
            raw.frames.len(),
            n * FRAME_SIZE
        )));
    }
    Ok(Obs {
        seq,
        lane: raw.lane,
        games,
        first: raw.first.iter().map(|&f| f != 0).collect(),
        frames: raw.frames.into_vec(),
    })
}

/// What this bot plays and how, sent first.
#[derive(Debug, Serialize)]
pub struct Hello<'a> {
    pub t: &'static str,
    pub umi: &'static str,
    pub name: &'a str,
    /// `"ALL"`, or libmelee names joined by `+` in name order.
    pub characters: &'a str,
    pub delay: u32,
    pub max_games: Option<u32>,
    pub info: Info,
    pub deterministic: bool,
}

/// Which optional outputs `act` carries: none.
#[derive(Debug, Default, Serialize)]
pub struct Info {
    pub win_prob: bool,
    pub value: bool,
    pub extras: std::collections::BTreeMap<String, u32>,
}

/// The answer to an `obs` or `warmup`: `ctrl` is `f32[N x 13]`, little-endian.
#[derive(Serialize)]
pub struct Act<'a> {
    pub t: &'static str,
    pub seq: u64,
    #[serde(with = "serde_bytes")]
    pub ctrl: &'a [u8],
}

/// A readable failure, sent before the bot exits.
#[derive(Serialize)]
pub struct ErrorReport<'a> {
    pub t: &'static str,
    pub code: &'a str,
    pub msg: &'a str,
}

/// `ready`, after the warmups.
#[derive(Serialize)]
pub struct Ready {
    pub t: &'static str,
}

/// Encodes a message as a msgpack map into `out`.
pub fn encode(message: &impl Serialize, out: &mut Vec<u8>) {
    out.clear();
    // Writing maps of plain fields into a Vec cannot fail.
    rmp_serde::encode::write_named(out, message).expect("msgpack into a Vec");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: &impl Serialize) -> Vec<u8> {
        rmp_serde::to_vec_named(value).unwrap()
    }

    #[derive(Serialize)]
    struct RawObsOut<'a> {
        t: &'a str,
        seq: u64,
        lane: u32,
        #[serde(with = "serde_bytes")]
        games: &'a [u8],
        #[serde(with = "serde_bytes")]
        first: &'a [u8],
        #[serde(with = "serde_bytes")]
        frames: &'a [u8],
        extra_field: u8,
    }

    #[test]
    fn an_obs_decodes_and_ignores_fields_it_does_not_know() {
        let games: Vec<u8> = [7u32, 9].iter().flat_map(|g| g.to_le_bytes()).collect();
        let frames = vec![0u8; 2 * FRAME_SIZE];
        let raw = RawObsOut {
            t: "obs",
            seq: 5,
            lane: 1,
            games: &games,
            first: &[1, 0],
            frames: &frames,
            extra_field: 3,
        };
        match decode(&body(&raw)).unwrap() {
            ArenaMessage::Obs(obs) => {
                assert_eq!((obs.seq, obs.lane), (5, 1));
                assert_eq!(obs.games, [7, 9]);
                assert_eq!(obs.first, [true, false]);
                assert_eq!(obs.frames.len(), 2 * FRAME_SIZE);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_sized_arrays_are_named() {
        let frames = vec![0u8; FRAME_SIZE + 1];
        let raw = RawObsOut {
            t: "obs",
            seq: 1,
            lane: 0,
            games: &1u32.to_le_bytes(),
            first: &[1],
            frames: &frames,
            extra_field: 0,
        };
        let err = decode(&body(&raw)).unwrap_err();
        assert_eq!(err.code(), "bad_array");
        assert!(err.to_string().contains("771 frame bytes"), "{err}");
        let raw = RawObsOut {
            games: &[1, 2, 3],
            frames: &[],
            first: &[],
            ..raw
        };
        assert_eq!(decode(&body(&raw)).unwrap_err().code(), "bad_array");
    }

    #[test]
    fn unknown_types_missing_fields_and_non_maps_are_told_apart() {
        #[derive(Serialize)]
        struct T<'a> {
            t: &'a str,
        }
        let err = decode(&body(&T { t: "dance" })).unwrap_err();
        assert_eq!(err.code(), "unknown_message");
        assert!(err.to_string().contains("dance"));
        let err = decode(&body(&T { t: "welcome" })).unwrap_err();
        assert_eq!(err.code(), "malformed");
        assert!(err.to_string().contains("welcome"), "{err}");
        for garbage in [&b""[..], b"\x93\x01\x02\x03", b"\xc1", b"\x81\xa1t\x05"] {
            assert_eq!(decode(garbage).unwrap_err().code(), "malformed");
        }
        assert!(matches!(
            decode(&body(&T { t: "shutdown" })),
            Ok(ArenaMessage::Shutdown)
        ));
    }

    #[test]
    fn act_and_hello_are_maps_with_bin_arrays() {
        let mut out = Vec::new();
        let ctrl = [0u8; 13 * 4];
        encode(
            &Act {
                t: "act",
                seq: 3,
                ctrl: &ctrl,
            },
            &mut out,
        );
        assert_eq!(out[0], 0x83, "a fixmap of three fields");
        // "ctrl" then bin 8 of 52 bytes.
        let at = out.windows(5).position(|w| w == b"\xa4ctrl").unwrap();
        assert_eq!(&out[at + 5..at + 7], &[0xc4, 52]);
        encode(
            &Hello {
                t: "hello",
                umi: UMI_VERSION,
                name: "x",
                characters: "ALL",
                delay: 18,
                max_games: None,
                info: Info::default(),
                deterministic: true,
            },
            &mut out,
        );
        assert_eq!(out[0], 0x88);
    }
}
