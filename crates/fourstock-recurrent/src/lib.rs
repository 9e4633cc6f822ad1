//! fourstock's own model family: a recurrent (LSTM or GRU) policy on
//! candle, served behind [`fourstock_policy::Policy`] and trained by
//! `fourstock-train` with the same featurizer, core and head.
//!
//! Files: [`config`] (a model's config.json), [`featurizer`] (game state
//! to features), [`action`] (the controller action space), [`core`] (the
//! LSTM/GRU stack as candle ops, for training and as the reference),
//! [`head`] (logits to a controller), [`serving`] (the serving step on
//! packed weights), [`checkpoint`] (config and safetensors in and out),
//! [`policy`] (the parts put together as [`RecurrentPolicy`]), [`family`]
//! (how the model registry loads this family's folders).

pub mod action;
pub mod checkpoint;
pub mod config;
pub mod core;
pub mod family;
pub mod featurizer;
pub mod head;
pub mod policy;
pub mod serving;

pub use checkpoint::CheckpointError;
pub use config::{CellKind, Decoding, FeatureConfig, PolicyConfig};
pub use family::RecurrentFamily;
pub use policy::RecurrentPolicy;
