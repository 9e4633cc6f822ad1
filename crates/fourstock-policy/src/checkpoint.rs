//! todo
#[derive(Debug, thiserror::Error)]
#[error("todo")]
pub struct CheckpointError;
