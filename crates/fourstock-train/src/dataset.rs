//! Replays into sequences: which games count (the ruleset filter), which
//! ports of them (a character, or every human player), and the splits:
//! held-out games by file (never by frames of one game), held-out players
//! by who played a port, and the validation players that early stopping
//! watches. Every split is a stable hash of a name, so every model holds
//! out the same games and people whatever the folder order.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fourstock_policy::ResetRule;
use fourstock_proto::{ClientMessage, Frame};
use fourstock_replay::{read_replay, PlayerKind, Replay};
use tracing::{info, warn};

use crate::sequence::Sequence;

/// Which games and ports make a data set.
#[derive(Clone, Debug)]
pub struct Selection {
    /// External character ids to learn from; empty for any. Only human
    /// players are learned from: CPUs are not the play to imitate.
    pub characters: Vec<u8>,
    /// Keep only singles on a legal stage with items off.
    pub competitive: bool,
    /// Reaction delay in frames.
    pub delay: u32,
    pub reset: ResetRule,
}

/// Why a game was left out.
pub fn rejection(replay: &Replay, competitive: bool) -> Option<String> {
    let s = &replay.summary;
    if !competitive {
        return None;
    }
    if !s.stage.legal {
        return Some(format!("{} is not a legal stage", s.stage.name));
    }
    if s.items {
        return Some("items are on".into());
    }
    if s.players.len() != 2 {
        return Some(format!("{} players, not singles", s.players.len()));
    }
    None
}

/// The sequences of one game under `selection`: one per selected port.
pub fn game_sequences(replay: &Replay, selection: &Selection) -> Vec<Sequence> {
    let frames: Arc<Vec<Frame>> = Arc::new(replay.frames().cloned().collect());
    let messages: &[ClientMessage] = &replay.messages;
    let file = file_name(Path::new(&replay.summary.file));
    replay
        .summary
        .players
        .iter()
        .filter(|p| {
            p.kind == PlayerKind::Human
                && (selection.characters.is_empty() || selection.characters.contains(&p.character))
        })
        .map(|p| {
            let player = player_key(p.connect_code.as_deref(), &file);
            Sequence::from_frames(
                file.clone(),
                p.port,
                p.character,
                messages,
                frames.clone(),
                selection.delay,
                selection.reset,
            )
            .with_player(player)
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Reads `files` and returns every selected sequence. Unreadable and
/// filtered games are logged and skipped.
pub fn load(files: &[PathBuf], selection: &Selection) -> Vec<Sequence> {
    let mut sequences = Vec::new();
    for path in files {
        let replay = match read_replay(path) {
            Ok(replay) => replay,
            Err(e) => {
                warn!("skipping {}: {e}", path.display());
                continue;
            }
        };
        if let Some(reason) = rejection(&replay, selection.competitive) {
            info!("leaving out {}: {reason}", path.display());
            continue;
        }
        sequences.extend(game_sequences(&replay, selection));
    }
    sequences
}

/// Who played a port, as the player splits see it: the Slippi connect
/// code (3.9+, e.g. `NUT#356`) when the replay has one, else `file:NAME`,
/// so an unnamed player is a different person in every file and both
/// unnamed ports of a game fall on the same side.
pub fn player_key(connect_code: Option<&str>, file: &str) -> String {
    match connect_code {
        Some(code) if !code.is_empty() => code.to_string(),
        _ => format!("file:{file}"),
    }
}

/// Whether a replay file is held out for evaluation: a stable hash of its
/// file name, so every model holds out the same games whatever the folder
/// order or the character.
pub fn held_out(path: &Path, percent: u32) -> bool {
    bucket(&file_name(path)) < percent as u64
}

/// Whether a player (a [`player_key`]) is held out for evaluation: no
/// port of theirs is trained on, in any file.
pub fn held_out_player(player: &str, percent: u32) -> bool {
    bucket(&format!("player:{player}")) < percent as u64
}

/// Whether a player is in the validation set that early stopping watches.
/// Drawn by a second hash, independent of the held-out players.
pub fn validation_player(player: &str, percent: u32) -> bool {
    bucket(&format!("validation:{player}")) < percent as u64
}

/// How held-out data is chosen for evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// Whole replay files, by [`held_out`].
    Files,
    /// Every port of the players [`held_out_player`] picks, in any file.
    Players,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Files => "files",
            Split::Players => "players",
        }
    }
}

/// A stable bucket 0..100 of `text`: FNV-1a, 64 bits, mod 100.
fn bucket(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash % 100
}

/// The training and held-out files of a folder.
pub fn split(files: &[PathBuf], percent: u32) -> (Vec<PathBuf>, Vec<PathBuf>) {
    files.iter().cloned().partition(|f| !held_out(f, percent))
}

/// Samples in all of `sequences`.
pub fn samples(sequences: &[Sequence]) -> usize {
    sequences.iter().map(Sequence::len).sum()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_player_is_their_connect_code_or_a_stranger_per_file() {
        assert_eq!(player_key(Some("NUT#356"), "a.slp"), "NUT#356");
        assert_eq!(player_key(None, "a.slp"), "file:a.slp");
        assert_eq!(player_key(Some(""), "a.slp"), "file:a.slp");
    }

    #[test]
    fn held_out_and_validation_players_are_drawn_independently() {
        let players: Vec<String> = (0..2000).map(|i| format!("P{i}#{}", i * 7)).collect();
        let held = players.iter().filter(|p| held_out_player(p, 15)).count();
        let valid = players.iter().filter(|p| validation_player(p, 10)).count();
        let both = players
            .iter()
            .filter(|p| held_out_player(p, 15) && validation_player(p, 10))
            .count();
        // About 15%, 10%, and 1.5% for both if the draws are independent.
        assert!((240..360).contains(&held), "{held}");
        assert!((150..250).contains(&valid), "{valid}");
        assert!((10..60).contains(&both), "{both}");
        // Stable: the same player is always on the same side.
        assert!(players
            .iter()
            .all(|p| held_out_player(p, 15) == held_out_player(p, 15)));
        assert!(players
            .iter()
            .all(|p| !held_out_player(p, 0) && held_out_player(p, 100)));
    }
}
