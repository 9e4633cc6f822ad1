//! Imitation learning: fourstock's recurrent policies trained on Slippi
//! replays with candle, through the same featurizer, core and head the
//! daemon serves (`fourstock-recurrent`). It depends on the policy contract
//! for the lifecycle, never on the server.
//!
//! A replay folder becomes [`Sequence`]s, one per port playing the chosen
//! character ([`dataset`]): frame t seen from that port, paired with the
//! controller it held on frame t + delay ([`target`]), with resets where
//! serving resets, by the contract's own [`fourstock_policy::Lifecycle`]
//! ([`sequence`]). [`window`] cuts lanes of
//! sequences into windows for truncated backpropagation through time;
//! [`model`] unrolls the policy over them; [`loss`] scores the logits;
//! [`trainer`] runs AdamW on a schedule, with early stopping;
//! [`mirror`] flips games left for right; [`eval`] compares a policy with two baselines on
//! held-out games, and [`margins`] says how sure that comparison is; [`job`] is one
//! `fourstock train` run end to end.

pub mod calibrate;
pub mod dataset;
pub mod eval;
pub mod job;
pub mod loss;
pub mod margins;
pub mod mirror;
pub mod model;
pub mod sequence;
pub mod target;
pub mod trainer;
pub mod window;

pub use dataset::{Selection, Split};
pub use eval::{evaluate, evaluate_files, Evaluation};
pub use job::{character_id, JobReport, TrainJob};
pub use model::TrainModel;
pub use sequence::Sequence;
pub use target::Target;
pub use trainer::{
    train, train_validated, CurvePoint, Progress, Schedule, TrainError, TrainOptions, TrainReport,
};
