//! Replays into sequences: which games count (the ruleset filter), which
//! ports of them (a character, or every human player), and the split into
//! training and held-out games, by file, never by frames of one game.

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
            Sequence::from_frames(
                file.clone(),
                p.port,
                p.character,
                messages,
                frames.clone(),
                selection.delay,
                selection.reset,
            )
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

/// Whether a replay file is held out for evaluation: a stable hash of its
/// file name, so every model holds out the same games whatever the folder
/// order or the character.
pub fn held_out(path: &Path, percent: u32) -> bool {
    let name = file_name(path);
    // FNV-1a, 64 bits.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= byte as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % 100) < percent as u64
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
