//! todo
pub struct RecurrentPolicy;
