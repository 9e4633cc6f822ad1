//! One replay read end to end: parsed by peppi, converted into the messages
//! a live client would have sent, checked like the daemon checks them, and
//! summarized.

use std::path::Path;

use fourstock_proto::melee::{CHARACTERS, STAGES};
use fourstock_proto::validate;
use fourstock_proto::{ClientMessage, Frame, MatchEnd, MatchStart, PlayerInfo, FIRST_FRAME};
use peppi::game::immutable::Game;

use crate::contain::contain;
use crate::error::{Reason, ReplayError};
use crate::summary::{self, ReplaySummary};
use crate::{frames, parse};

/// A replay as a client session: the summary, and the messages in order.
#[derive(Clone, Debug)]
pub struct Replay {
    pub summary: ReplaySummary,
    /// `MatchStart`, one `Frame` per frame number in order, then `MatchEnd`
    /// when the replay records how the game ended. Each passes
    /// [`fourstock_proto::validate::client_message`].
    pub messages: Vec<ClientMessage>,
}

impl Replay {
    /// The frames, in order.
    pub fn frames(&self) -> impl Iterator<Item = &Frame> {
        self.messages.iter().filter_map(|m| match m {
            ClientMessage::Frame(frame) => Some(frame),
            _ => None,
        })
    }
}

/// Reads a Slippi replay (.slp).
///
/// Never panics and never aborts on a bad file: a corrupt, truncated or
/// unsupported replay is an error naming the file and the reason.
pub fn read_replay(path: impl AsRef<Path>) -> Result<Replay, ReplayError> {
    let path = path.as_ref();
    let bytes = parse::read_bounded(path).map_err(|reason| ReplayError::new(path, reason))?;
    read_replay_bytes(&bytes, path)
}

/// [`read_replay`] on a replay already in memory; `path` only names it in
/// the summary and the error. The fuzz targets come in here.
pub fn read_replay_bytes(bytes: &[u8], path: impl AsRef<Path>) -> Result<Replay, ReplayError> {
    let path = path.as_ref();
    let fail = |reason| ReplayError::new(path, reason);
    let game = parse::parse_bytes(bytes).map_err(fail)?;
    contain(|| build(path, &game))
        .and_then(|built| built)
        .map_err(fail)
}

fn build(path: &Path, game: &Game) -> Result<Replay, Reason> {
    let start = &game.start;
    if start.stage >= STAGES {
        return Err(Reason::Unsupported(format!(
            "stage id {} is past the protocol's {}",
            start.stage,
            STAGES - 1
        )));
    }
    if let Some(p) = start.players.iter().find(|p| p.character >= CHARACTERS) {
        return Err(Reason::Unsupported(format!(
            "port {} plays character id {}, past the protocol's {}",
            u8::from(p.port) + 1,
            p.character,
            CHARACTERS - 1
        )));
    }

    let converted = frames::convert(game)?;
    let summary = summary::summarize(path, game, &converted.frames, converted.rollback_dropped);
    let last_frame = converted.frames.last().map_or(FIRST_FRAME, |f| f.frame);

    let mut messages = Vec::with_capacity(converted.frames.len() + 2);
    messages.push(ClientMessage::MatchStart(MatchStart {
        stage: start.stage,
        players: start
            .players
            .iter()
            .map(|p| PlayerInfo {
                port: u8::from(p.port) + 1,
                character: p.character,
            })
            .collect(),
    }));
    messages.extend(converted.frames.into_iter().map(ClientMessage::Frame));
    if let Some(end) = &game.end {
        messages.push(ClientMessage::MatchEnd(MatchEnd {
            frame: last_frame,
            method: end.method as u8,
        }));
    }

    for message in &messages {
        validate::client_message(message).map_err(|e| {
            Reason::Unsupported(format!("a message fails the protocol's checks: {e}"))
        })?;
    }
    Ok(Replay { summary, messages })
}
