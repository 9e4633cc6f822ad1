//! The policy contract: what every front end (the TCP daemon, the UMI bot,
//! training) knows about a model, and all it knows.
//!
//! A model family (fourstock's own LSTM/GRU, slippi-ai's `tx_like`)
//! implements [`Policy`] for its models and [`Family`] to load them; the
//! [`ModelRegistry`] holds the loaded models and picks one for a port. The
//! front ends drive policies only through these types, so they never link
//! a family, and the [`Lifecycle`] and [`ResetRule`] decide, the same way
//! for everyone, when a port's recurrent state starts over.
//!
//! Files: [`policy`] (the trait, a port's [`PolicyState`], step requests
//! and errors), [`reset`] (the reset rule and its causes), [`lifecycle`]
//! (which frames step, re-send or reset), [`registry`] (the models folder,
//! the [`Family`] trait and the choice of a model for a port),
//! [`model_dir`] (a model folder's `config.json`, read and written the one
//! way every family does), [`limits`] (the ranges every model config value
//! must fall in), [`cores`] (how many cores a front end's threads
//! default to).

pub mod cores;
pub mod lifecycle;
pub mod limits;
pub mod model_dir;
pub mod policy;
pub mod registry;
pub mod reset;

pub use cores::{CoreSource, Cores};
pub use lifecycle::{Lifecycle, Stocks, Verdict};
pub use limits::MAX_DELAY;
pub use model_dir::ConfigError;
pub use policy::{PlayerName, Policy, PolicyError, PolicyInfo, PolicyState, StepRequest};
pub use registry::{Family, ModelRegistry, RegistryError};
pub use reset::{ResetCause, ResetRule};
