//! What every session of one daemon shares, read-only: the settings, the
//! models, where each model steps and the compute pool. The listener
//! builds it once and hands each session an `Arc` of it, so no session
//! reaches back into the listener.

use fourstock_policy::ModelRegistry;

use crate::compute::ComputePool;
use crate::config::ServerConfig;
use crate::placement::Placements;

pub(crate) struct Shared {
    pub(crate) config: ServerConfig,
    pub(crate) models: ModelRegistry,
    pub(crate) placements: Placements,
    pub(crate) compute: ComputePool,
}
