//! Every way loading, importing or running a slippi-ai policy can fail.
//!
//! Everything read from disk is untrusted, so each failure is a value that
//! names the file and what was wrong with it; nothing here panics on input.

use std::path::PathBuf;

use crate::pickle::PickleError;

#[derive(Debug, thiserror::Error)]
pub enum SlippiError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not valid JSON for this file: {reason}")]
    Json { path: PathBuf, reason: String },
    /// The checkpoint asks for something fourstock does not implement.
    #[error("unsupported slippi-ai checkpoint: {what}")]
    Unsupported { what: String },
    /// A config value is missing, of the wrong type or out of range.
    #[error("bad config: {reason}")]
    Config { reason: String },
    #[error("{path}: not a readable safetensors file: {reason}")]
    Weights { path: PathBuf, reason: String },
    #[error("tensor {name} is missing (expected shape {expected:?})")]
    Missing { name: String, expected: Vec<usize> },
    #[error("tensor {name} has shape {got:?}, expected {expected:?}")]
    Shape {
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("tensor {name} is {got}; expected a float type (F16, BF16, F32 or F64)")]
    DType { name: String, got: String },
    #[error("unexpected tensor {name}: the config does not call for it")]
    Unexpected { name: String },
    #[error("tensor {name} holds NaN or infinite values")]
    NonFinite { name: String },
    #[error("{path}: {source}")]
    Pickle { path: PathBuf, source: PickleError },
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl SlippiError {
    pub(crate) fn unsupported(what: impl Into<String>) -> SlippiError {
        SlippiError::Unsupported { what: what.into() }
    }

    pub(crate) fn config(reason: impl Into<String>) -> SlippiError {
        SlippiError::Config {
            reason: reason.into(),
        }
    }
}
