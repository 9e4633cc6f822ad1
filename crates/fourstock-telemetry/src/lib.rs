//! What an operator scrapes: the daemon's and the UMI bot's figures in the
//! Prometheus text format, and the HTTP endpoint that serves them.
//!
//! Both front ends count the same things (frames, replies by kind, steps
//! and step time per model, resets by cause, errors by code, sessions), so
//! the figures live here once rather than in either front end, and neither
//! depends on the other. The crate knows no protocol and no model: labels
//! are plain names a front end hands in.
//!
//! Files: [`telemetry`] (the figures, registered once at start-up, with
//! handles resolved up front so the per-frame cost is a few atomic adds;
//! [`ModelTable`] finds a model's by name)
//! and [`endpoint`] (`/metrics` and `/healthz` over hyper).

pub mod endpoint;
pub mod telemetry;

pub use endpoint::serve;
pub use telemetry::{ModelTable, ModelTelemetry, ReplyKind, ResetKind, Telemetry};
