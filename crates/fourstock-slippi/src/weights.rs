//! A slippi-ai policy's tensors: their names, the shapes a config calls
//! for, and safetensors files in and out.
//!
//! Names are slippi-ai's own, the nested keys of the checkpoint's
//! `state.policy` joined with `/`, so a converted file can be read next to
//! slippi-ai's code. For a config with hidden size H, L layers, ffw
//! multiplier m, residual R, component depth d and feature width F:
//! - `network/_network/_layers/0/_module/{kernel [F, H], bias [H]}`
//! - per layer k, `_layers/{2k+1}/_net/_core/`: `ii, if_, ig, io` kernels
//!   `[H, H]`; `hi, hf, hg, ho` kernels `[H, H]` and biases `[H]`
//! - per layer k, `_layers/{2k+2}/_module/`: `layernorm/{scale, bias} [H]`,
//!   `linear1 [H, mH]`, `linear2 [mH, H]`
//! - `_controller_head/to_residual [H, R]`
//! - per component c of width e, `_controller_head/res_blocks/{c}/`:
//!   `_encoder/layers/{2j}` for j < d: `[R + e | R, R]`, then
//!   `_encoder/layers/{2d}`: `[R + e | R, e]`; `decoder [e, R]`.
//!
//! Everything read is checked: exactly the expected names, the expected
//! shapes, a float dtype (converted to f32) and finite values.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use fourstock_policy::checkpoint::F32View;
use safetensors::tensor::Dtype;

use crate::config::SlippiConfig;
use crate::controller::{ControllerSpace, COMPONENTS};
use crate::error::SlippiError;
use crate::featurizer::Featurizer;

/// Tensor names, as slippi-ai's JAX policy nests them.
pub mod names {
    /// Input-side and hidden-side gate names, in the order i, f, g, o.
    pub const LSTM_GATES: [(&str, &str); 4] =
        [("ii", "hi"), ("if_", "hf"), ("ig", "hg"), ("io", "ho")];

    pub fn encoder(leaf: &str) -> String {
        format!("network/_network/_layers/0/_module/{leaf}")
    }

    /// Prefix of layer `k`'s LSTM cell.
    pub fn lstm(k: usize) -> String {
        format!("network/_network/_layers/{}/_net/_core", 2 * k + 1)
    }

    /// Prefix of layer `k`'s feed-forward block.
    pub fn ffw(k: usize) -> String {
        format!("network/_network/_layers/{}/_module", 2 * k + 2)
    }

    pub fn to_residual(leaf: &str) -> String {
        format!("_controller_head/to_residual/{leaf}")
    }

    /// Component `c`'s encoder layer `j` (0 ..= depth).
    pub fn component_encoder(c: usize, j: usize, leaf: &str) -> String {
        format!(
            "_controller_head/res_blocks/{c}/_encoder/layers/{}/{leaf}",
            2 * j
        )
    }

    pub fn component_decoder(c: usize, leaf: &str) -> String {
        format!("_controller_head/res_blocks/{c}/decoder/{leaf}")
    }
}

/// Every tensor a config calls for, with its shape, in a stable order.
pub fn expected_tensors(config: &SlippiConfig) -> Vec<(String, Vec<usize>)> {
    let h = config.core.hidden_size;
    let wide = h * config.core.ffw_multiplier;
    let input = Featurizer::new(&config.embed).size();
    let mut out = vec![
        (names::encoder("kernel"), vec![input, h]),
        (names::encoder("bias"), vec![h]),
    ];
    for k in 0..config.core.num_layers {
        let lstm = names::lstm(k);
        for (input_gate, hidden_gate) in names::LSTM_GATES {
            out.push((format!("{lstm}/{input_gate}/kernel"), vec![h, h]));
            out.push((format!("{lstm}/{hidden_gate}/kernel"), vec![h, h]));
            out.push((format!("{lstm}/{hidden_gate}/bias"), vec![h]));
        }
        let ffw = names::ffw(k);
        out.push((format!("{ffw}/layernorm/scale"), vec![h]));
        out.push((format!("{ffw}/layernorm/bias"), vec![h]));
        out.push((format!("{ffw}/linear1/kernel"), vec![h, wide]));
        out.push((format!("{ffw}/linear1/bias"), vec![wide]));
        out.push((format!("{ffw}/linear2/kernel"), vec![wide, h]));
        out.push((format!("{ffw}/linear2/bias"), vec![h]));
    }
    let r = config.head.residual_size;
    let depth = config.head.component_depth;
    out.push((names::to_residual("kernel"), vec![h, r]));
    out.push((names::to_residual("bias"), vec![r]));
    let space = ControllerSpace::new(&config.embed);
    for c in 0..COMPONENTS {
        let e = space.width(c);
        for j in 0..=depth {
            let fan_in = if j == 0 { r + e } else { r };
            let fan_out = if j == depth { e } else { r };
            out.push((
                names::component_encoder(c, j, "kernel"),
                vec![fan_in, fan_out],
            ));
            out.push((names::component_encoder(c, j, "bias"), vec![fan_out]));
        }
        out.push((names::component_decoder(c, "kernel"), vec![e, r]));
        out.push((names::component_decoder(c, "bias"), vec![r]));
    }
    out
}

/// Checked tensors by name, taken out one by one as the network is built.
#[derive(Debug, Default)]
pub struct WeightMap(HashMap<String, Tensor>);

impl WeightMap {
    pub fn new(tensors: HashMap<String, Tensor>) -> WeightMap {
        WeightMap(tensors)
    }

    pub fn take(&mut self, name: &str) -> Result<Tensor, SlippiError> {
        self.0.remove(name).ok_or_else(|| SlippiError::Missing {
            name: name.to_string(),
            expected: Vec::new(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names left over.
    pub fn remaining(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        names
    }
}

/// Checks that `found` (name, shape) holds exactly `expected`.
pub fn check_names_and_shapes(
    found: &[(String, Vec<usize>)],
    expected: &[(String, Vec<usize>)],
) -> Result<(), SlippiError> {
    let found_map: HashMap<&str, &Vec<usize>> =
        found.iter().map(|(n, s)| (n.as_str(), s)).collect();
    let mut extra: Vec<&str> = found_map
        .keys()
        .copied()
        .filter(|n| !expected.iter().any(|(e, _)| e == n))
        .collect();
    extra.sort();
    if let Some(name) = extra.first() {
        return Err(SlippiError::Unexpected {
            name: name.to_string(),
        });
    }
    for (name, shape) in expected {
        match found_map.get(name.as_str()) {
            None => {
                return Err(SlippiError::Missing {
                    name: name.clone(),
                    expected: shape.clone(),
                })
            }
            Some(got) if *got != shape => {
                return Err(SlippiError::Shape {
                    name: name.clone(),
                    expected: shape.clone(),
                    got: (*got).clone(),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Reads a safetensors file and checks it holds exactly `expected`.
pub fn read_safetensors(
    path: &Path,
    expected: &[(String, Vec<usize>)],
) -> Result<HashMap<String, Tensor>, SlippiError> {
    let bytes = std::fs::read(path).map_err(|source| SlippiError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| SlippiError::Weights {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let found: Vec<(String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.shape().to_vec()))
        .collect();
    check_names_and_shapes(&found, expected)?;
    let mut tensors = HashMap::with_capacity(expected.len());
    for (name, shape) in expected {
        let view = file.tensor(name).map_err(|e| SlippiError::Weights {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            other => {
                return Err(SlippiError::DType {
                    name: name.clone(),
                    got: format!("{other:?}"),
                })
            }
        };
        let tensor = Tensor::from_raw_buffer(view.data(), dtype, shape, &Device::Cpu)?
            .to_dtype(DType::F32)?;
        let values = tensor.flatten_all()?.to_vec1::<f32>()?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(SlippiError::NonFinite { name: name.clone() });
        }
        tensors.insert(name.clone(), tensor);
    }
    Ok(tensors)
}

/// One f32 tensor to write.
pub struct F32Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// Serialises named f32 tensors as safetensors bytes.
pub fn safetensors_bytes(
    path: &Path,
    tensors: &[(String, F32Tensor)],
) -> Result<Vec<u8>, SlippiError> {
    let views = tensors
        .iter()
        .map(|(name, t)| (name.clone(), F32View::new(t.shape.clone(), &t.values)));
    safetensors::serialize(views, None).map_err(|e| SlippiError::Weights {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a
/// reader never sees half a file.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), SlippiError> {
    let io = |source| SlippiError::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Seeded random weights for a config, for benchmarks and tests: kernels
/// uniform in ±1/sqrt(fan_in), biases in ±0.1, LayerNorm scales near 1.
/// The same seed gives the same tensors.
pub fn random_tensors(config: &SlippiConfig, seed: u64) -> Vec<(String, F32Tensor)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    expected_tensors(config)
        .into_iter()
        .map(|(name, shape)| {
            let count: usize = shape.iter().product();
            let (centre, spread) = if name.ends_with("/scale") {
                (1.0, 0.1)
            } else if shape.len() == 2 {
                (0.0, 1.0 / (shape[0] as f32).sqrt())
            } else {
                (0.0, 0.1)
            };
            let values = (0..count)
                .map(|_| centre + rng.random_range(-spread..=spread))
                .collect();
            (name, F32Tensor { shape, values })
        })
        .collect()
}
