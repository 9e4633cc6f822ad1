//! Every way loading or running a slippi-ai policy can fail.
//!
//! Everything read from disk is untrusted, so each failure is a value that
//! names the file and what was wrong with it; nothing here panics on input.
//! Reading a config or a weight file fails the way it does for every
//! family ([`ConfigError`], [`WeightsError`]); what is slippi-ai's own is
//! a checkpoint setting fourstock does not implement, or a config value
//! out of range.

use fourstock_nn::WeightsError;
use fourstock_policy::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum SlippiError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Boxed: it names a file, a tensor and two shapes.
    #[error(transparent)]
    Weights(Box<WeightsError>),
    /// The checkpoint asks for something fourstock does not implement.
    #[error("unsupported slippi-ai checkpoint: {what}")]
    Unsupported { what: String },
    /// A config value is missing, of the wrong type or out of range.
    #[error("bad config: {reason}")]
    Invalid { reason: String },
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl From<WeightsError> for SlippiError {
    fn from(error: WeightsError) -> Self {
        SlippiError::Weights(Box::new(error))
    }
}

impl SlippiError {
    pub fn unsupported(what: impl Into<String>) -> SlippiError {
        SlippiError::Unsupported { what: what.into() }
    }

    pub(crate) fn config(reason: impl Into<String>) -> SlippiError {
        SlippiError::Invalid {
            reason: reason.into(),
        }
    }
}
