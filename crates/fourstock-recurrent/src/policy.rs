//! [`RecurrentPolicy`]: the featurizer, recurrent core and controller head
//! put together behind the [`Policy`] trait.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use fourstock_proto::ControllerState;
use rand::{Rng, SeedableRng};

use crate::checkpoint::{self, CheckpointError};
use crate::config::PolicyConfig;
use crate::core::{LayerWeights, RecurrentCore};
use crate::featurizer::Featurizer;
use crate::head::{self, ControllerHead};
use fourstock_policy::model_dir::ConfigError;
use fourstock_policy::{Policy, PolicyError, PolicyInfo, PolicyState, StepRequest};

pub struct RecurrentPolicy {
    config: PolicyConfig,
    info: PolicyInfo,
    featurizer: Featurizer,
    core: RecurrentCore,
    head: ControllerHead,
    /// The weights by checkpoint name, for saving.
    tensors: Vec<(String, Tensor)>,
}

impl RecurrentPolicy {
    /// Loads `dir/config.json` and `dir/model.safetensors`.
    pub fn load(dir: &Path) -> Result<RecurrentPolicy, CheckpointError> {
        let config = checkpoint::read_config(dir)?;
        let input = Featurizer::new(&config.features).size();
        let expected = checkpoint::expected_tensors(&config, input);
        let tensors = checkpoint::read_weights(dir, &expected)?;
        Self::from_tensors(config, tensors).map_err(|source| CheckpointError::Tensor {
            path: dir.to_path_buf(),
            source,
        })
    }

    /// A seeded, untrained policy: every weight uniform in +-1/sqrt(H) as
    /// PyTorch initialises `nn.LSTM`, `nn.GRU` and `nn.Linear`. The same
    /// seed gives the same weights.
    pub fn initialize(config: PolicyConfig, seed: u64) -> Result<RecurrentPolicy, CheckpointError> {
        let here = Path::new(&config.name).to_path_buf();
        checkpoint::check_config(&config).map_err(|reason| ConfigError::Invalid {
            path: here.clone(),
            reason,
        })?;
        let input = Featurizer::new(&config.features).size();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut tensors = HashMap::new();
        for (name, shape) in checkpoint::expected_tensors(&config, input) {
            // Fan-in: a layer's hidden size, or the head's input width.
            let fan = if name.starts_with("head.") {
                *config.hidden_sizes.last().expect("checked non-empty")
            } else {
                let layer: usize = name
                    .rsplit("_l")
                    .next()
                    .and_then(|k| k.parse().ok())
                    .unwrap_or(0);
                config.hidden_sizes[layer]
            };
            let bound = 1.0 / (fan as f32).sqrt();
            let count: usize = shape.iter().product();
            let values: Vec<f32> = (0..count)
                .map(|_| rng.random_range(-bound..bound))
                .collect();
            let tensor = Tensor::from_vec(values, shape, &Device::Cpu).map_err(|source| {
                CheckpointError::Tensor {
                    path: here.clone(),
                    source,
                }
            })?;
            tensors.insert(name, tensor);
        }
        Self::from_tensors(config, tensors)
            .map_err(|source| CheckpointError::Tensor { path: here, source })
    }

    /// Builds a policy from checked tensors named as in a checkpoint.
    pub fn from_tensors(
        config: PolicyConfig,
        mut tensors: HashMap<String, Tensor>,
    ) -> candle_core::Result<RecurrentPolicy> {
        let featurizer = Featurizer::new(&config.features);
        let input = featurizer.size();
        let expected = checkpoint::expected_tensors(&config, input);
        let mut take = |name: &str| {
            tensors
                .remove(name)
                .ok_or_else(|| candle_core::Error::Msg(format!("tensor {name} is missing")))
        };
        let mut ordered = Vec::with_capacity(expected.len());
        for (name, _) in &expected {
            ordered.push((name.clone(), take(name)?));
        }
        let get = |name: &str| -> &Tensor {
            &ordered
                .iter()
                .find(|(n, _)| n == name)
                .expect("taken above")
                .1
        };
        let layers: Vec<LayerWeights> = (0..config.hidden_sizes.len())
            .map(|k| LayerWeights {
                weight_ih: get(&format!("core.weight_ih_l{k}")).clone(),
                weight_hh: get(&format!("core.weight_hh_l{k}")).clone(),
                bias_ih: get(&format!("core.bias_ih_l{k}")).clone(),
                bias_hh: get(&format!("core.bias_hh_l{k}")).clone(),
            })
            .collect();
        let core = RecurrentCore::new(config.cell, &layers)?;
        let head = ControllerHead::new(get("head.weight"), get("head.bias"))?;
        let info = PolicyInfo {
            name: config.name.clone(),
            cell: config.cell.name().into(),
            input_size: input,
            hidden_sizes: config.hidden_sizes.clone(),
            delay: config.delay,
            reset: config.reset,
            characters: config.characters.clone(),
            // Featurize, dense layers, argmax or one draw: the same work every frame.
            fixed_cost: true,
        };
        Ok(RecurrentPolicy {
            config,
            info,
            featurizer,
            core,
            head,
            tensors: ordered,
        })
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// The weights by checkpoint name, in checkpoint order.
    pub fn tensors(&self) -> &[(String, Tensor)] {
        &self.tensors
    }

    /// Writes the checkpoint into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), CheckpointError> {
        checkpoint::write(dir, &self.config, &self.tensors)
    }

    /// The head's logits for a batch, advancing the states: the step without
    /// decoding, for tests and evaluation.
    pub fn step_logits(&self, batch: &mut [StepRequest<'_>]) -> Result<Tensor, PolicyError> {
        let rows = batch.len();
        if rows == 0 {
            return Ok(Tensor::zeros(
                (0, crate::action::SIZE),
                candle_core::DType::F32,
                &Device::Cpu,
            )?);
        }
        let width = self.featurizer.size();
        let mut features = vec![0f32; rows * width];
        for (request, row) in batch.iter().zip(features.chunks_mut(width)) {
            self.featurizer.write(request.frame, request.port, row)?;
        }
        let ports: Vec<u8> = batch.iter().map(|r| r.port).collect();
        let mut states: Vec<&mut PolicyState> = batch.iter_mut().map(|r| &mut *r.state).collect();
        self.step_features(&features, &ports, &mut states)
    }

    /// The step from ready-made features, `states.len()` rows of
    /// [`Featurizer::size`] each: the core and head without the featurizer.
    /// Advances the states and returns the logits. `ports` only names rows
    /// in errors. Benchmarks against other runtimes start here.
    pub fn step_features(
        &self,
        features: &[f32],
        ports: &[u8],
        states: &mut [&mut PolicyState],
    ) -> Result<Tensor, PolicyError> {
        let rows = states.len();
        let width = self.featurizer.size();
        if rows == 0 || ports.len() != rows || features.len() != rows * width {
            return Err(PolicyError::Inputs {
                model: self.info.name.clone(),
                expected: rows * width,
                got: features.len(),
            });
        }
        let projected = self.core.project_sparse(features, rows)?;
        let state = self.stack_states(ports, states)?;
        let (top, next) = self.core.step_projected(&projected, &state)?;
        for (k, tensor) in next.into_iter().enumerate() {
            if rows == 1 {
                states[0].tensors[k] = tensor;
            } else {
                for (i, state) in states.iter_mut().enumerate() {
                    state.tensors[k] = tensor.narrow(0, i, 1)?;
                }
            }
        }
        Ok(self.head.logits(&top)?)
    }

    /// Each state tensor of every request, stacked along the batch, after
    /// checking every state is one this policy made.
    fn stack_states(
        &self,
        ports: &[u8],
        states: &[&mut PolicyState],
    ) -> Result<Vec<Tensor>, PolicyError> {
        for (state, port) in states.iter().zip(ports) {
            let tensors = &state.tensors;
            let fits = tensors.len() == self.core.state_sizes().count()
                && tensors
                    .iter()
                    .zip(self.core.state_sizes())
                    .all(|(t, hidden)| t.dims() == [1, hidden]);
            if !fits {
                let shapes: Vec<_> = tensors.iter().map(|t| t.dims().to_vec()).collect();
                return Err(PolicyError::ForeignState {
                    model: self.info.name.clone(),
                    port: *port,
                    detail: format!(
                        "state tensors of shapes {shapes:?}; expected (1, h) for h in {:?}",
                        self.core.state_sizes().collect::<Vec<_>>()
                    ),
                });
            }
        }
        Ok((0..states[0].tensors.len())
            .map(|k| {
                if states.len() == 1 {
                    Ok(states[0].tensors[k].clone())
                } else {
                    let parts: Vec<&Tensor> = states.iter().map(|s| &s.tensors[k]).collect();
                    Tensor::cat(&parts, 0)
                }
            })
            .collect::<candle_core::Result<_>>()?)
    }
}

impl Policy for RecurrentPolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn initial_state(&self, seed: u64) -> PolicyState {
        PolicyState {
            tensors: self
                .core
                .zero_state(1, &Device::Cpu)
                .expect("allocating a zero state on the CPU"),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            name_code: None,
            extras: None,
        }
    }

    fn step(&self, batch: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let logits = self.step_logits(batch)?.to_vec2::<f32>()?;
        Ok(batch
            .iter_mut()
            .zip(logits)
            .map(|(request, row)| head::decode(&row, self.config.decoding, &mut request.state.rng))
            .collect())
    }
}
