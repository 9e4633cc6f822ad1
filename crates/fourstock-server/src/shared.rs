//! What every session of one daemon shares, read-only: the settings, the
//! models, where each model steps, the compute pool and the figures an
//! operator scrapes. The listener
//! builds it once and hands each session an `Arc` of it, so no session
//! reaches back into the listener.

use fourstock_policy::ModelRegistry;

use std::sync::Arc;

use fourstock_proto::ErrorCode;
use fourstock_telemetry::{ModelTable, Telemetry};

use crate::compute::ComputePool;
use crate::config::ServerConfig;
use crate::placement::Placements;

pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) models: ModelRegistry,
    pub(crate) placements: Placements,
    pub(crate) compute: ComputePool,
    /// Each model's step figures; the rest are `config.telemetry`'s.
    pub(crate) figures: Arc<ModelTable>,
}

impl Shared {
    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.config.telemetry
    }

    /// Counts an error sent to a peer.
    pub(crate) fn count_error(&self, code: ErrorCode) {
        self.telemetry().error(code.name());
    }
}
