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
//! A port's [`PolicyState`] tensors are, in order: the core's `c0, h0, c1,
//! h1, ...` (each `(1, H)`), the previous sampled controller's 13 classes
//! (`(1, 13)`, all 0 at first, slippi-ai's dummy controller) and the tech
//! mask's previous opponent action and count (`(1, 2)`).
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

use crate::controller::{ControllerClasses, ControllerSpace, COMPONENTS};
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

pub struct SlippiPolicy {
    model: SlippiModel,
    info: PolicyInfo,
    /// The player imitated when a port asks for none.
    default_player: Option<PlayerName>,
    temperature: f32,
}

impl SlippiPolicy {
    /// Loads a fourstock model folder written by [`crate::import_checkpoint`].
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

    /// Imitates another player from the checkpoint's name map by default.
    pub fn set_player_name(&mut self, name: &str) -> Result<(), SlippiError> {
        let player = self.named(name).map_err(SlippiError::config)?;
        self.default_player = Some(player);
        Ok(())
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

    pub fn set_temperature(&mut self, temperature: f32) -> Result<(), SlippiError> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(SlippiError::config(format!(
                "temperature {temperature} must be positive"
            )));
        }
        self.temperature = temperature;
        Ok(())
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
        let at = self.core_len();
        let tensors = &mut request.state.tensors;
        if tensors.len() != at + 2 {
            return Err(candle_core::Error::Msg(format!(
                "a slippi-ai state has {} tensors, got {}",
                at + 2,
                tensors.len()
            ))
            .into());
        }
        let prev_values = tensors[at].flatten_all()?.to_vec1::<f32>()?;
        let mut prev = ControllerClasses::default();
        for (slot, v) in prev.0.iter_mut().zip(prev_values) {
            *slot = v as u8;
        }
        if self.model.config().tech_mask {
            let parts = tensors[at + 1].flatten_all()?.to_vec1::<f32>()?;
            let [action, count] = parts[..] else {
                return Err(candle_core::Error::Msg(format!(
                    "the tech mask state has {} values, expected 2",
                    parts.len()
                ))
                .into());
            };
            let mut mask = TechMask::from_parts(action as u16, count as u32);
            obs.p1.action = mask.apply(obs.p1.action);
            let (action, count) = mask.parts();
            tensors[at + 1] =
                Tensor::from_vec(vec![action as f32, count as f32], (1, 2), &Device::Cpu)?;
        }
        Ok((obs, prev))
    }
}

impl Policy for SlippiPolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn initial_state(&self, seed: u64) -> PolicyState {
        let mut tensors = self
            .model
            .core()
            .zero_state(1, &Device::Cpu)
            .expect("allocating a zero state on the CPU");
        tensors.push(
            Tensor::zeros((1, COMPONENTS), candle_core::DType::F32, &Device::Cpu)
                .expect("allocating on the CPU"),
        );
        tensors.push(
            Tensor::zeros((1, 2), candle_core::DType::F32, &Device::Cpu)
                .expect("allocating on the CPU"),
        );
        PolicyState {
            tensors,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            name_code: self.name_code(),
        }
    }

    fn player_name(&self, requested: Option<&str>) -> Result<Option<PlayerName>, String> {
        match requested {
            None => Ok(self.default_player.clone()),
            Some(name) => self.named(name).map(Some),
        }
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
            let values: Vec<f32> = chosen.0.iter().map(|&c| c as f32).collect();
            request.state.tensors[n] = Tensor::from_vec(values, (1, COMPONENTS), &Device::Cpu)?;
            replies.push(space.decode(chosen));
        }
        Ok(replies)
    }
}
