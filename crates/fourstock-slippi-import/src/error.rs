//! Every way importing a slippi-ai checkpoint can fail, each naming the
//! file: reading it, parsing the pickle, an array fourstock cannot take,
//! or a checkpoint slippi-ai's serving family refuses.

use std::path::PathBuf;

use fourstock_nn::WeightsError;
use fourstock_proto::file::FileError;
use fourstock_slippi::SlippiError;

use crate::pickle::PickleError;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Over the size cap for a checkpoint, so not read.
    #[error(transparent)]
    TooLarge(FileError),
    #[error("{path}: {source}")]
    Pickle { path: PathBuf, source: PickleError },
    /// An array that is not finite floats.
    #[error(transparent)]
    Weights(Box<WeightsError>),
    #[error(transparent)]
    Slippi(#[from] SlippiError),
}

impl From<WeightsError> for ImportError {
    fn from(error: WeightsError) -> Self {
        ImportError::Weights(Box::new(error))
    }
}
