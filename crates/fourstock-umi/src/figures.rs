//! Each served model's step figures, registered once when the session
//! starts and found by the policy a lane steps, so a step builds no label.
//! The bot's other figures are [`Telemetry`]'s, counted where they happen.

use std::sync::Arc;

use fourstock_policy::Policy;
use fourstock_telemetry::{ModelTelemetry, Telemetry};

pub struct Figures {
    by_policy: Vec<(Arc<dyn Policy>, ModelTelemetry)>,
    /// For a policy not served (none is).
    detached: ModelTelemetry,
}

impl Figures {
    /// Registers every policy with its parameter count.
    pub fn register(policies: &[Arc<dyn Policy>], telemetry: &Telemetry) -> Figures {
        Figures {
            by_policy: policies
                .iter()
                .map(|p| (p.clone(), telemetry.model(&p.info().name, p.parameters())))
                .collect(),
            detached: ModelTelemetry::detached(),
        }
    }

    /// Figures that count into nothing scraped: a warmup's scratch steps.
    pub fn none() -> Figures {
        Figures {
            by_policy: Vec::new(),
            detached: ModelTelemetry::detached(),
        }
    }

    pub fn of(&self, policy: &dyn Policy) -> &ModelTelemetry {
        // By address: a policy is one allocation shared by every game.
        let wanted = policy as *const dyn Policy as *const u8;
        self.by_policy
            .iter()
            .find(|(p, _)| Arc::as_ptr(p) as *const u8 == wanted)
            .map_or(&self.detached, |(_, figures)| figures)
    }
}
