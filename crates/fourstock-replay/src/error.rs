//! Why a replay could not be read: every failure names the file and the
//! reason, so one bad replay in a folder of thousands is easy to find.

use std::path::{Path, PathBuf};

/// A replay that could not be turned into messages.
#[derive(Debug, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct ReplayError {
    path: PathBuf,
    reason: Reason,
}

/// What went wrong with a replay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// The file could not be opened or read.
    #[error("cannot read the file: {0}")]
    Io(#[source] std::io::Error),
    /// The file is larger than any real replay, so it is not parsed.
    #[error("the file is {bytes} bytes, more than the {limit} bytes a replay may have")]
    TooLarge { bytes: u64, limit: u64 },
    /// A header field peppi sizes an allocation by claims more bytes than
    /// the file holds, so the file is not handed to peppi.
    #[error("the header's {field} is {claimed} bytes, more than the {available} bytes the file holds for it")]
    Oversized {
        field: String,
        claimed: u64,
        available: u64,
    },
    /// peppi refused the file: not a replay, truncated, or corrupt.
    #[error("not a readable Slippi replay: {0}")]
    Corrupt(String),
    /// peppi or the conversion panicked on this file; the panic was contained.
    #[error("the parser crashed on this file (contained): {0}")]
    Panicked(String),
    /// A well-formed replay the protocol cannot carry (e.g. a stage id past 63).
    #[error("unsupported replay: {0}")]
    Unsupported(String),
}

impl ReplayError {
    pub(crate) fn new(path: &Path, reason: Reason) -> ReplayError {
        ReplayError {
            path: path.to_path_buf(),
            reason,
        }
    }

    /// The file that failed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why it failed.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }
}
