//! slippi-ai ("Phillip") policies served by fourstock, with numerical
//! parity with slippi-ai's own JAX code.
//!
//! A slippi-ai policy embeds the game state, the policy's previous
//! controller and an imitated player's name code ([`featurizer`]), runs a
//! `tx_like` recurrent core ([`core`], built from [`layers`]) and samples
//! the controller one component at a time with an autoregressive head
//! ([`head`], [`sampling`]). [`SlippiPolicy`] puts them behind
//! [`fourstock_policy::Policy`], mapping protocol frames to slippi-ai's
//! observations ([`wire`], with [`fourstock_proto::melee`]'s ids, and
//! [`tech_mask`]).
//!
//! Checkpoints: [`import_checkpoint`] reads slippi-ai's pickle with a
//! restricted reader ([`pickle`]) and writes a model folder ([`model`],
//! [`weights`], [`config`]).
//!
//! Files: [`config`] (a model's config.json and its translation from
//! slippi-ai's), [`controller`] (the 13 discrete components),
//! [`observation`] (the featurizer's input), [`featurizer`], [`layers`],
//! [`core`], [`head`], [`sampling`], [`weights`] (tensor names, shapes,
//! safetensors), [`model`] (the network and its folders), [`policy`],
//! [`wire`], [`tech_mask`], [`pickle`], [`import`],
//! [`error`], [`timing`] (a random model at practical size, for benchmarks).

pub mod config;
pub mod controller;
pub mod core;
pub mod error;
pub mod featurizer;
pub mod head;
pub mod import;
pub mod layers;
pub mod model;
pub mod observation;
pub mod pickle;
pub mod policy;
pub mod sampling;
pub mod tech_mask;
pub mod timing;
pub mod weights;
pub mod wire;

pub use config::SlippiConfig;
pub use controller::{ControllerClasses, ControllerSpace};
pub use error::SlippiError;
pub use import::{import_checkpoint, ImportReport};
pub use model::{is_slippi_model, SlippiModel};
pub use observation::{Observation, PlayerObservation};
pub use policy::SlippiPolicy;
