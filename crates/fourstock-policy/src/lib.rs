//! Recurrent Melee policies, run with candle on the CPU.
//!
//! A policy reads one frame of game state from the point of view of the port
//! it plays, advances its recurrent state by one step and decides what that
//! port's controller does. The daemon drives policies only through the
//! [`Policy`] trait, so that other families (slippi-ai's, a test's slow
//! stand-in) can sit beside fourstock's own [`RecurrentPolicy`].
//!
//! Files: [`action`] (the controller action space), [`activation`]
//! (vectorised sigmoid and tanh), [`config`] (a model's
//! config.json), [`featurizer`] (game state to features), [`core`] (the
//! LSTM/GRU stack), [`head`] (logits to a controller), [`kernel`] (the
//! hand-written small-batch `x W + b`), [`checkpoint`] (safetensors in and
//! out), [`recurrent`] (the three put together).

pub mod action;
pub mod activation;
pub mod checkpoint;
pub mod config;
pub mod core;
pub mod featurizer;
pub mod head;
pub mod kernel;
pub mod recurrent;

use candle_core::Tensor;
use fourstock_proto::{ControllerState, Frame};

pub use checkpoint::CheckpointError;
pub use config::{CellKind, Decoding, FeatureConfig, PolicyConfig, ResetRule};
pub use recurrent::RecurrentPolicy;

/// What the daemon tells a client about a model.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyInfo {
    pub name: String,
    /// `"lstm"`, `"gru"`, or another family's name for its core.
    pub cell: String,
    pub input_size: usize,
    pub hidden_sizes: Vec<usize>,
    /// Reaction delay in frames.
    pub delay: u32,
    /// The events that reset this policy's state.
    pub reset: ResetRule,
}

/// A player whose style a policy imitates: a name from the model's
/// checkpoint and the code the policy's inputs carry for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerName {
    pub name: String,
    pub code: u32,
}

/// One port's recurrent state, plus the random stream its sampling draws
/// from and the player it imitates. A fresh state is what
/// [`Policy::initial_state`] returns; a reset replaces the state with a
/// fresh one.
#[derive(Clone, Debug)]
pub struct PolicyState {
    /// The family's tensors, each of shape `(1, n)`; for an LSTM stack,
    /// `h0, c0, h1, c1, ...`, for a GRU stack `h0, h1, ...`.
    pub tensors: Vec<Tensor>,
    /// Seed and draw count of the sampling stream; unused by argmax decoding.
    pub rng: rand::rngs::StdRng,
    /// The [`PlayerName::code`] this port's inputs carry, for families that
    /// read one (slippi-ai's); `None` for the others. `initial_state` sets
    /// the model's default; the daemon sets each port's choice (see
    /// [`Policy::player_name`]) on every fresh state, so it survives resets
    /// and ports with different names can share a batch.
    pub name_code: Option<u32>,
}

/// One port to advance by one frame.
pub struct StepRequest<'a> {
    pub frame: &'a Frame,
    /// The port this policy plays; the featurizer puts it first.
    pub port: u8,
    pub state: &'a mut PolicyState,
}

/// A failure inside a step. The daemon treats it as an internal error.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("port {0} is not in the frame")]
    MissingPort(u8),
    /// A request's state does not fit the policy: made by another policy.
    #[error("state does not fit the policy: {0}")]
    State(String),
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// A servable policy. Implementations are shared between compute threads.
pub trait Policy: Send + Sync {
    fn info(&self) -> &PolicyInfo;

    /// The state at the start of a match or after a reset. `seed` feeds the
    /// sampling stream, so that a reset session replays a fresh one exactly.
    fn initial_state(&self, seed: u64) -> PolicyState;

    /// Advances every request's state by exactly one step and returns each
    /// port's controller, in request order. Requests may come from different
    /// sessions; a policy may run them as one batch.
    fn step(&self, batch: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError>;

    /// The player imitated by a port that asks for `requested` (`None`: the
    /// model's default), whose code goes into the port's
    /// [`PolicyState::name_code`]; `Ok(None)` when the policy imitates no
    /// one. `Err` is a short readable refusal naming the model and the
    /// names it offers. The default suits families without player names:
    /// no name, and any requested name refused.
    fn player_name(&self, requested: Option<&str>) -> Result<Option<PlayerName>, String> {
        match requested {
            None => Ok(None),
            Some(_) => Err(format!(
                "model {:?} imitates no player, so it offers no player names",
                self.info().name
            )),
        }
    }
}
