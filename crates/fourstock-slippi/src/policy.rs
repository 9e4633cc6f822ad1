//! [`SlippiPolicy`]: a slippi-ai model behind fourstock's [`Policy`] trait,
//! so the daemon serves it like its own policies.
//!
//! Each step follows slippi-ai's agent loop: the opponent's action goes
//! through the tech mask (if the checkpoint was trained with it), the frame
//! is embedded with the policy's own previous *sampled* controller and the
//! imitated name code, the core advances once, and the head samples the 13
//! components in order with the port's seeded RNG and the temperature.
//!
//! The imitated player is per port: each state carries its name code
//! ([`PolicyState::name_code`]), the model's default unless the port chose
//! another name from the checkpoint's name map ([`Policy::player_name`]),
//! so ports imitating different players still step as one batch.
//!
//! A port's [`PolicyState`] tensors are the core's `c0, h0, c1, h1, ...`
//! (each `(1, H)`); its extras are a [`PortExtras`]: the previous sampled
//! controller (all 0 at first, slippi-ai's dummy controller) and the
//! opponent's tech mask.
//!
//! The reset rule is slippi-ai's: a new match only, never a stock loss.
//! The delay is the checkpoint's; the daemon's delay queue applies it.

use std::path::Path;

use candle_core::{Device, Tensor};
use fourstock_policy::{
    PlayerName, Policy, PolicyError, PolicyInfo, PolicyState, ResetRule, StepRequest,
};
use fourstock_proto::ControllerState;
use rand::SeedableRng;

use crate::controller::{ControllerClasses, ControllerSpace};
use crate::error::SlippiError;
use crate::model::SlippiModel;
use crate::observation::Observation;
use crate::sampling;
use crate::tech_mask::TechMask;
use crate::wire;

/// The reset rule slippi-ai's agents follow.
pub const SLIPPI_RESET: ResetRule = ResetRule {
    stock_loss: false,
    new_match: true,
};

/// At most this many names are listed when a requested one is refused.
const LISTED_NAMES: usize = 8;
/// A requested name is quoted back cut to this many characters.
const QUOTED_CHARS: usize = 40;

/// What a slippi-ai port carries beside its core state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PortExtras {
    /// The controller this port's policy sampled on the previous frame.
    pub prev: ControllerClasses,
    /// slippi-ai's observation filter over the opponent's action.
    pub tech_mask: TechMask,
}

pub struct SlippiPolicy {
    model: SlippiModel,
    info: PolicyInfo,
    /// The player imitated when a port asks for none.
    default_player: Option<PlayerName>,
    temperature: f32,
}

impl SlippiPolicy {
    /// Loads a fourstock model folder written by `fourstock import slippi-ai`.
    pub fn load(dir: &Path) -> Result<SlippiPolicy, SlippiError> {
        Ok(SlippiPolicy::new(SlippiModel::load(dir)?))
    }

    pub fn new(model: SlippiModel) -> SlippiPolicy {
        let config = model.config();
        let info = PolicyInfo {
            name: config.name.clone(),
            cell: "tx_like".into(),
            input_size: model.featurizer().size(),
            hidden_sizes: vec![config.core.hidden_size; config.core.num_layers],
            delay: config.delay,
            reset: SLIPPI_RESET,
            characters: Vec::new(),
            // The same layers and head every frame: no search, no waiting.
            fixed_cost: true,
        };
        let default_player = config.player_name.as_ref().and_then(|name| {
            let code = *config.name_map.get(name)?;
            Some(PlayerName {
                name: name.clone(),
                code,
            })
        });
        let temperature = config.temperature;
        SlippiPolicy {
            model,
            info,
            default_player,
            temperature,
        }
    }

    pub fn model(&self) -> &SlippiModel {
        &self.model
    }

    /// The default imitated player's name code: what a fresh state carries.
    pub fn name_code(&self) -> Option<u32> {
        self.default_player.as_ref().map(|p| p.code)
    }

    /// A name of the checkpoint's name map, or a short refusal that names
    /// the model and (some of) the names it offers.
    fn named(&self, name: &str) -> Result<PlayerName, String> {
        let names = &self.model.config().name_map;
        if let Some(&code) = names.get(name) {
            return Ok(PlayerName {
                name: name.to_string(),
                code,
            });
        }
        let quoted: String = name.chars().take(QUOTED_CHARS).collect();
        let cut = if quoted.len() < name.len() { "..." } else { "" };
        let mut offered: Vec<String> = names
            .keys()
            .take(LISTED_NAMES)
            .map(|n| format!("{:?}", n.chars().take(QUOTED_CHARS).collect::<String>()))
            .collect();
        if names.len() > LISTED_NAMES {
            offered.push(format!("and {} more", names.len() - LISTED_NAMES));
        }
        let offered = if offered.is_empty() {
            "no player names".to_string()
        } else {
            offered.join(", ")
        };
        Err(format!(
            "model {:?} has no player {quoted:?}{cut}; it offers {offered}",
            self.info.name
        ))
    }

    fn core_len(&self) -> usize {
        self.model.core().state_len()
    }

    /// The observation and previous controller of one request, advancing
    /// its tech mask.
    fn prepare(
        &self,
        request: &mut StepRequest<'_>,
    ) -> Result<(Observation, ControllerClasses), PolicyError> {
        let mut obs = wire::observe(request.frame, request.port)
            .ok_or(PolicyError::MissingPort(request.port))?;
        let tech_mask = self.model.config().tech_mask;
        let extras = self.extras_mut(request.port, request.state)?;
        if tech_mask {
            obs.p1.action = extras.tech_mask.apply(obs.p1.action);
        }
        Ok((obs, extras.prev))
    }

    /// A request's [`PortExtras`], or the refusal of a state another
    /// policy made.
    fn extras_mut<'s>(
        &self,
        port: u8,
        state: &'s mut PolicyState,
    ) -> Result<&'s mut PortExtras, PolicyError> {
        let tensors = state.tensors.len();
        if tensors != self.core_len() {
            return Err(self.foreign(port, format!("{tensors} state tensors")));
        }
        state
            .extras_mut::<PortExtras>()
            .ok_or_else(|| self.foreign(port, "no slippi-ai extras".into()))
    }

    fn foreign(&self, port: u8, detail: String) -> PolicyError {
        PolicyError::ForeignState {
            model: self.info.name.clone(),
            port,
            detail: format!(
                "{detail}; a slippi-ai state has {} tensors and its extras",
                self.core_len()
            ),
        }
    }
}

impl Policy for SlippiPolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn initial_state(&self, seed: u64) -> PolicyState {
        let tensors = self
            .model
            .core()
            .zero_state(1, &Device::Cpu)
            .expect("allocating a zero state on the CPU");
        PolicyState {
            tensors,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            name_code: self.name_code(),
            extras: Some(Box::new(PortExtras::default())),
        }
    }

    fn player_name(&self, requested: Option<&str>) -> Result<Option<PlayerName>, String> {
        match requested {
            None => Ok(self.default_player.clone()),
            Some(name) => self.named(name).map(Some),
        }
    }

    fn parameters(&self) -> Option<u64> {
        Some(self.model.parameters())
    }

    fn step(&self, batch: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let rows = batch
            .iter_mut()
            .map(|r| {
                let (obs, prev) = self.prepare(r)?;
                Ok((obs, prev, r.state.name_code))
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        let x = self.model.embed(&rows)?;
        let n = self.core_len();
        let state = (0..n)
            .map(|k| {
                if batch.len() == 1 {
                    Ok(batch[0].state.tensors[k].clone())
                } else {
                    let parts: Vec<&Tensor> = batch.iter().map(|r| &r.state.tensors[k]).collect();
                    Tensor::cat(&parts, 0)
                }
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let (out, next) = self.model.core().step(&x, &state)?;
        for (k, tensor) in next.into_iter().enumerate() {
            if batch.len() == 1 {
                batch[0].state.tensors[k] = tensor;
            } else {
                for (i, request) in batch.iter_mut().enumerate() {
                    request.state.tensors[k] = tensor.narrow(0, i, 1)?;
                }
            }
        }
        let prev: Vec<ControllerClasses> = rows.iter().map(|(_, p, _)| *p).collect();
        let temperature = self.temperature;
        let head = {
            let mut rngs: Vec<&mut rand::rngs::StdRng> =
                batch.iter_mut().map(|r| &mut r.state.rng).collect();
            self.model
                .head()
                .run(&out, &prev, false, |row, k, logits| {
                    sampling::sample(
                        logits,
                        ControllerSpace::is_button(k),
                        temperature,
                        &mut *rngs[row],
                    )
                })?
        };
        let space = self.model.featurizer().controller_space();
        let mut replies = Vec::with_capacity(batch.len());
        for (request, chosen) in batch.iter_mut().zip(&head.controllers) {
            self.extras_mut(request.port, request.state)?.prev = *chosen;
            replies.push(space.decode(chosen));
        }
        Ok(replies)
    }
}
