//! The models this bot serves, what its `hello` declares from them, and
//! which model plays each game.
//!
//! With `--model NAME` every game is that model's. Otherwise a game gets a
//! model trained at the arena's delay (the `welcome`'s) when one is
//! shipped: first one made for its character, then a generic one. Failing
//! that, the first model made for its character, else the registry's
//! default, as the daemon chooses for a port. The `hello` says:
//! - `characters`: `"ALL"` when a generic model (one that lists no
//!   characters) is served, else the union of the models' characters, as
//!   libmelee names joined by `+` in name order;
//! - `delay`: the trained delay of the model that plays by default;
//! - `deterministic`: true. Argmax decoding is deterministic, and a
//!   sampling model's stream starts from the session's `rng_seed` at every
//!   game's start and every reset, so the same frames give the same
//!   actions under any game handle.

use std::collections::BTreeSet;
use std::sync::Arc;

use fourstock_policy::{ModelRegistry, Policy};
use fourstock_proto::melee::{self, LIBMELEE_CHARACTERS};
use fourstock_proto::PortRequest;

pub struct Served<'a> {
    registry: &'a ModelRegistry,
    /// The model named on the command line, which plays every game.
    only: Option<Arc<dyn Policy>>,
}

impl<'a> Served<'a> {
    /// Every model of `registry`, or only the one named `model`.
    pub fn new(registry: &'a ModelRegistry, model: Option<&str>) -> Result<Served<'a>, String> {
        let only = match model {
            None => None,
            Some(name) => Some(registry.get(name).cloned().ok_or_else(|| {
                format!(
                    "no model {name:?}; the models folder has {:?}",
                    registry.names()
                )
            })?),
        };
        Ok(Served { registry, only })
    }

    fn policies(&self) -> Vec<&Arc<dyn Policy>> {
        match &self.only {
            Some(policy) => vec![policy],
            None => self
                .registry
                .names()
                .into_iter()
                .filter_map(|name| self.registry.get(name))
                .collect(),
        }
    }

    /// The model that plays a game no other model is made for.
    pub fn default_policy(&self) -> &Arc<dyn Policy> {
        match &self.only {
            Some(policy) => policy,
            None => self
                .registry
                .get(self.registry.default_name())
                .expect("the registry holds its default"),
        }
    }

    /// Every served model once, the default first: what the warmups run.
    pub fn all(&self) -> Vec<Arc<dyn Policy>> {
        let default = self.default_policy().clone();
        let mut all = vec![default.clone()];
        all.extend(
            self.policies()
                .into_iter()
                .filter(|p| !Arc::ptr_eq(p, &default))
                .cloned(),
        );
        all
    }

    /// `hello`'s `characters`.
    pub fn characters(&self) -> String {
        let policies = self.policies();
        if policies.iter().any(|p| p.info().characters.is_empty()) {
            return "ALL".into();
        }
        let names: BTreeSet<&str> = policies
            .iter()
            .flat_map(|p| p.info().characters.iter())
            .filter_map(|&external| melee::internal_character(external))
            .filter_map(melee::libmelee_name)
            .collect();
        if names.len() == LIBMELEE_CHARACTERS {
            return "ALL".into();
        }
        names.into_iter().collect::<Vec<_>>().join("+")
    }

    /// `hello`'s `delay`.
    pub fn delay(&self) -> u32 {
        self.default_policy().info().delay
    }

    /// The model for a game whose bot plays `character` (external id) on
    /// `port`, in an arena that delays inputs by `delay` frames.
    pub fn choose(&self, port: u8, character: u8, delay: u32) -> Arc<dyn Policy> {
        if let Some(policy) = &self.only {
            return policy.clone();
        }
        let at_delay: Vec<&Arc<dyn Policy>> = self
            .policies()
            .into_iter()
            .filter(|p| p.info().delay == delay)
            .collect();
        let made_for = at_delay
            .iter()
            .find(|p| p.info().characters.contains(&character));
        let generic = || at_delay.iter().find(|p| p.info().characters.is_empty());
        // The default itself, when it fits, before another generic model.
        let default = self.default_policy();
        let default_fits = default.info().delay == delay && default.info().characters.is_empty();
        if let Some(policy) = made_for {
            return (*policy).clone();
        }
        if default_fits {
            return default.clone();
        }
        if let Some(policy) = generic() {
            return (*policy).clone();
        }
        let request = PortRequest {
            port,
            character,
            model: None,
            player_name: None,
        };
        match self.registry.choose(&request) {
            Ok((policy, _)) => policy,
            // Only a requested model can be unknown, and none is requested.
            Err(_) => self.default_policy().clone(),
        }
    }
}
