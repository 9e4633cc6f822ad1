//! The numerical building blocks every fourstock model family stands on,
//! with no knowledge of Melee, the wire or any family.
//!
//! Files: [`kernel`] (the hand-written small-batch `x W + b` and the one
//! rule that sends a batch through it, [`kernel::takes_rows`]), [`sparse`]
//! (`x W + b` summing only the weight rows of non-zero inputs),
//! [`activation`] (vectorised sigmoid and tanh), [`cell`] (the LSTM and
//! GRU cells on plain rows), [`layers`] (flax's `Linear`, the LayerNorms
//! and the activations slippi-ai's networks use), [`safetensors`] (one
//! checked reader and one atomic writer for weight files).
//!
//! Everything hand-written here exists because candle's general kernels
//! cost several times more at the batch sizes live sessions step; each
//! such function is proved equal to candle's result in this crate's tests.

pub mod activation;
pub mod cell;
pub mod kernel;
pub mod layers;
pub mod safetensors;
pub mod sparse;

pub use kernel::{PackedWeights, SMALL_BATCH};
pub use safetensors::{F32Tensor, WeightsError};
