//! Imports slippi-ai ("Phillip") checkpoints as fourstock model folders,
//! which `fourstock-slippi` serves.
//!
//! slippi-ai saves a checkpoint as a Python pickle. [`pickle`] reads it
//! with a restricted reader that builds plain values and numpy arrays and
//! never runs code, so an untrusted file is safe to open; [`import`] picks
//! the policy's parameters and config out of it and writes the folder.
//! Only the `fourstock import` command links this crate: the daemon and
//! the UMI bot serve imported models without it.
//!
//! Files: [`pickle`], [`import`], [`error`].

pub mod error;
pub mod import;
pub mod pickle;

pub use error::ImportError;
pub use import::{convert_checkpoint, import_checkpoint, Checkpoint, ImportReport};
