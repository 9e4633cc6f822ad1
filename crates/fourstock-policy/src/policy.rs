//! The [`Policy`] trait, and what passes through it: a port's
//! [`PolicyState`], the [`StepRequest`]s of one step, and [`PolicyError`].
//!
//! A policy reads one frame of game state from the point of view of the
//! port it plays, advances that port's recurrent state by exactly one step
//! and decides what its controller does. Requests of one step may come from
//! different sessions or games, so a policy can run them as one batch.

use std::any::Any;
use std::fmt;

use candle_core::Tensor;
use fourstock_proto::{ControllerState, Frame};

use crate::reset::ResetRule;

/// What a front end tells its peer about a model.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyInfo {
    pub name: String,
    /// `"lstm"`, `"gru"`, or another family's name for its core.
    pub cell: String,
    pub input_size: usize,
    pub hidden_sizes: Vec<usize>,
    /// Reaction delay in frames, at most [`crate::MAX_DELAY`].
    pub delay: u32,
    /// The events that reset this policy's state.
    pub reset: ResetRule,
    /// Characters (external ids) the model was made for; empty for any.
    pub characters: Vec<u8>,
    /// Whether every step of a given batch size does the same work whatever
    /// the frame: no data-dependent loops, no waiting on anything. A step
    /// timed at start-up then predicts every later one, so a front end may
    /// run such a policy inline on its I/O thread when it is fast enough.
    /// A policy whose steps can spike (a remote model, a search) says
    /// `false`, and is always stepped where a late step cannot hold up
    /// anyone's fallback.
    pub fixed_cost: bool,
}

/// A player whose style a policy imitates: a name from the model's
/// checkpoint and the code the policy's inputs carry for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerName {
    pub name: String,
    pub code: u32,
}

/// One port's recurrent state, plus the random stream its sampling draws
/// from, the player it imitates and whatever else its family keeps per
/// port. A fresh state is what [`Policy::initial_state`] returns; a reset
/// replaces the state with a fresh one.
pub struct PolicyState {
    /// The family's recurrent tensors, each of shape `(1, n)`; for an LSTM
    /// stack, `h0, c0, h1, c1, ...`, for a GRU stack `h0, h1, ...`. A step
    /// may write them in place (fourstock's own family does), so a clone
    /// taken before a step shares its storage and sees the step: keep a
    /// snapshot with `Tensor::copy`.
    pub tensors: Vec<Tensor>,
    /// Seed and draw count of the sampling stream; unused by argmax decoding.
    pub rng: rand::rngs::StdRng,
    /// The [`PlayerName::code`] this port's inputs carry, for families that
    /// read one (slippi-ai's); `None` for the others. `initial_state` sets
    /// the model's default; a front end sets each port's choice (see
    /// [`Policy::player_name`]) on every fresh state, so it survives resets
    /// and ports with different names can share a batch.
    pub name_code: Option<u32>,
    /// A family's own per-port values that are not tensors (slippi-ai's
    /// previous controller and tech mask), typed; see [`PolicyState::extras`].
    pub extras: Option<Box<dyn Any + Send>>,
}

impl PolicyState {
    /// The family's per-port values, if they are a `T`.
    pub fn extras<T: Any>(&self) -> Option<&T> {
        self.extras.as_ref()?.downcast_ref()
    }

    pub fn extras_mut<T: Any>(&mut self) -> Option<&mut T> {
        self.extras.as_mut()?.downcast_mut()
    }
}

impl fmt::Debug for PolicyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shapes: Vec<&[usize]> = self.tensors.iter().map(|t| t.dims()).collect();
        f.debug_struct("PolicyState")
            .field("tensors", &shapes)
            .field("name_code", &self.name_code)
            .field("extras", &self.extras.is_some())
            .finish()
    }
}

/// One port to advance by one frame.
pub struct StepRequest<'a> {
    pub frame: &'a Frame,
    /// The port this policy plays; the featurizer puts it first.
    pub port: u8,
    pub state: &'a mut PolicyState,
}

impl<'a> StepRequest<'a> {
    /// One request per state, all for the same frame and port: a batch of
    /// ports seeing one frame, as benchmarks and warm-ups step them.
    pub fn same_frame(
        frame: &'a Frame,
        port: u8,
        states: &'a mut [PolicyState],
    ) -> Vec<StepRequest<'a>> {
        states
            .iter_mut()
            .map(|state| StepRequest { frame, port, state })
            .collect()
    }
}

/// A failure inside a step. A front end ends the session or game it hit.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("port {0} is not in the frame")]
    MissingPort(u8),
    /// A request's state does not fit the policy: another policy made it.
    #[error("port {port}'s state does not fit model {model}: {detail}")]
    ForeignState {
        model: String,
        port: u8,
        detail: String,
    },
    /// The inputs of a step do not fit the model.
    #[error("model {model} was given {got} input values where it reads {expected}")]
    Inputs {
        model: String,
        expected: usize,
        got: usize,
    },
    #[error("tensor computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// A servable policy. Implementations are shared between threads.
pub trait Policy: Send + Sync {
    fn info(&self) -> &PolicyInfo;

    /// The state at the start of a match or after a reset. `seed` feeds the
    /// sampling stream, so that a reset session replays a fresh one exactly.
    fn initial_state(&self, seed: u64) -> PolicyState;

    /// Advances every request's state by exactly one step and returns each
    /// port's controller, in request order. Requests may come from different
    /// sessions; a policy may run them as one batch.
    fn step(&self, batch: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError>;

    /// How many weights the policy holds, for an operator's metrics;
    /// `None` where the family does not say.
    fn parameters(&self) -> Option<u64> {
        None
    }

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
