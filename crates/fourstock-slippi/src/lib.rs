//! slippi-ai ("Phillip") policies served by fourstock, with numerical
//! parity with slippi-ai's own JAX code.
//!
//! A slippi-ai policy embeds the game state, the policy's previous
//! controller and an imitated player's name code ([`featurizer`]), runs a
//! `tx_like` recurrent core ([`core`], built from `fourstock_nn`'s layers)
//! and samples the controller one component at a time with an
//! autoregressive head ([`head`], [`sampling`]). [`SlippiPolicy`] puts
//! them behind [`fourstock_policy::Policy`], mapping protocol frames to
//! slippi-ai's observations ([`wire`], with [`fourstock_proto::melee`]'s ids,
//! and [`tech_mask`]), and [`SlippiFamily`]
//! lets the model registry load its folders. Importing slippi-ai's own
//! checkpoints is `fourstock-slippi-import`'s job.
//!
//! Files: [`config`] (a model's config.json and its translation from
//! slippi-ai's), [`controller`] (the 13 discrete components),
//! [`observation`] (the featurizer's input), [`featurizer`], [`core`],
//! [`head`], [`sampling`], [`weights`] (tensor names and the shapes a
//! config calls for), [`model`] (the network and its folders), [`policy`],
//! [`family`], [`wire`], [`tech_mask`], [`error`],
//! [`timing`] (a random model at practical size, for benchmarks).

pub mod config;
pub mod controller;
pub mod core;
pub mod error;
pub mod family;
pub mod featurizer;
pub mod head;
pub mod model;
pub mod observation;
pub mod policy;
pub mod sampling;
pub mod tech_mask;
pub mod timing;
pub mod weights;
pub mod wire;

pub use config::SlippiConfig;
pub use controller::{ControllerClasses, ControllerSpace};
pub use error::SlippiError;
pub use family::SlippiFamily;
pub use model::SlippiModel;
pub use observation::{Observation, PlayerObservation};
pub use policy::SlippiPolicy;
