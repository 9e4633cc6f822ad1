//! [`RecurrentPolicy`]: the featurizer, recurrent core and controller head
//! put together behind the [`Policy`] trait. Every step, served or
//! evaluated, runs through [`ServingNet`].

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use fourstock_proto::ControllerState;
use rand::{Rng, SeedableRng};

use crate::checkpoint::{self, CheckpointError};
use crate::config::{Decoding, PolicyConfig};
use crate::core::LayerWeights;
use crate::featurizer::Featurizer;
use crate::head::{self, Decision};
use crate::serving::{Rows, ServingNet};
use fourstock_policy::model_dir::ConfigError;
use fourstock_policy::{Policy, PolicyError, PolicyInfo, PolicyState, StepRequest};

pub struct RecurrentPolicy {
    config: PolicyConfig,
    info: PolicyInfo,
    featurizer: Featurizer,
    net: ServingNet,
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
        let net = ServingNet::new(
            &config.name,
            config.cell,
            &layers,
            get("head.weight"),
            get("head.bias"),
        )?;
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
            net,
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
        let mut rows = FrameRows {
            featurizer: &self.featurizer,
            requests: batch,
        };
        self.logits(&mut rows)
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
        let mut rows = DenseRows {
            features,
            width,
            ports,
            states,
        };
        self.logits(&mut rows)
    }

    /// Steps `rows` and gathers their logits as one `(rows, 81)` tensor.
    fn logits<R: Rows + ?Sized>(&self, rows: &mut R) -> Result<Tensor, PolicyError> {
        let count = rows.count();
        let mut logits = Vec::with_capacity(count * self.net.outputs());
        self.net
            .step(rows, |row, _| logits.extend_from_slice(row))?;
        Ok(Tensor::from_vec(
            logits,
            (count, self.net.outputs()),
            &Device::Cpu,
        )?)
    }
}

/// Requests as rows: features from each request's frame and port.
struct FrameRows<'a, 'b> {
    featurizer: &'a Featurizer,
    requests: &'a mut [StepRequest<'b>],
}

impl Rows for FrameRows<'_, '_> {
    fn count(&self) -> usize {
        self.requests.len()
    }

    fn port(&self, r: usize) -> u8 {
        self.requests[r].port
    }

    fn features(&self, r: usize, out: &mut Vec<(u32, f32)>) -> Result<(), PolicyError> {
        let request = &self.requests[r];
        self.featurizer
            .write_sparse(request.frame, request.port, out)
    }

    fn state(&mut self, r: usize) -> &mut PolicyState {
        self.requests[r].state
    }
}

/// Ready-made feature rows, laid end to end.
struct DenseRows<'a, 'b> {
    features: &'a [f32],
    width: usize,
    ports: &'a [u8],
    states: &'a mut [&'b mut PolicyState],
}

impl Rows for DenseRows<'_, '_> {
    fn count(&self) -> usize {
        self.states.len()
    }

    fn port(&self, r: usize) -> u8 {
        self.ports[r]
    }

    fn features(&self, r: usize, out: &mut Vec<(u32, f32)>) -> Result<(), PolicyError> {
        let row = &self.features[r * self.width..(r + 1) * self.width];
        out.extend(
            row.iter()
                .enumerate()
                .filter(|(_, &v)| v != 0.0)
                .map(|(j, &v)| (j as u32, v)),
        );
        Ok(())
    }

    fn state(&mut self, r: usize) -> &mut PolicyState {
        self.states[r]
    }
}

impl Policy for RecurrentPolicy {
    fn info(&self) -> &PolicyInfo {
        &self.info
    }

    fn initial_state(&self, seed: u64) -> PolicyState {
        PolicyState {
            tensors: self
                .config
                .hidden_sizes
                .iter()
                .flat_map(|&n| std::iter::repeat_n(n, crate::core::state_tensors(self.config.cell)))
                .map(|n| Tensor::zeros((1, n), candle_core::DType::F32, &Device::Cpu))
                .collect::<candle_core::Result<_>>()
                .expect("allocating a zero state on the CPU"),
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            name_code: None,
            extras: None,
        }
    }

    fn parameters(&self) -> Option<u64> {
        Some(
            self.tensors
                .iter()
                .map(|(_, t)| t.elem_count() as u64)
                .sum(),
        )
    }

    fn step(&self, batch: &mut [StepRequest<'_>]) -> Result<Vec<ControllerState>, PolicyError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let decoding = &self.config.decoding;
        // What each port holds, for calibrated decoding's persistence.
        let neutral = Decision::of(&ControllerState::NEUTRAL);
        let held: Vec<Decision> = match decoding {
            Decoding::Calibrated { persistence, .. } if !persistence.is_empty() => batch
                .iter()
                .map(|r| {
                    r.frame
                        .player(r.port)
                        .map_or(neutral, |p| Decision::of(&p.controller))
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut controllers = Vec::with_capacity(batch.len());
        let mut rows = FrameRows {
            featurizer: &self.featurizer,
            requests: batch,
        };
        self.net.step(&mut rows, |logits, state| {
            let held = held.get(controllers.len()).copied().unwrap_or(neutral);
            controllers.push(head::decode(logits, decoding, &held, &mut state.rng))
        })?;
        Ok(controllers)
    }
}
