//! Checkpoints on disk: `NAME/config.json` and `NAME/model.safetensors`.
//!
//! Tensor names follow PyTorch's `nn.LSTM` / `nn.GRU` (layout and gate
//! order too) under a `core.` prefix, and `nn.Linear` under `head.`, so a
//! policy trained in PyTorch loads unchanged:
//! `core.weight_ih_l{k}` (G*H_k, in_k), `core.weight_hh_l{k}` (G*H_k, H_k),
//! `core.bias_ih_l{k}` (G*H_k), `core.bias_hh_l{k}` (G*H_k), `head.weight`
//! (81, H_last), `head.bias` (81); G is 4 for an LSTM and 3 for a GRU.
//!
//! Everything read is untrusted: a malformed or mismatched file is a
//! [`CheckpointError`] naming the file, the tensor and the expected shape.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, View};

use crate::config::PolicyConfig;
use crate::core::gates;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// The largest layer the loader accepts; a guard against absurd configs.
pub const MAX_HIDDEN: usize = 1 << 14;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: bad config: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("{path}: not a readable safetensors file: {reason}")]
    Weights { path: PathBuf, reason: String },
    #[error("{path}: tensor {name} is missing (expected shape {expected:?})")]
    Missing {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
    },
    #[error("{path}: tensor {name} has shape {got:?}, expected {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },
    #[error("{path}: tensor {name} is {got}; expected F32 (F16, BF16 and F64 are converted)")]
    DType {
        path: PathBuf,
        name: String,
        got: String,
    },
    #[error("{path}: unexpected tensor {name}: the config does not call for it")]
    Unexpected { path: PathBuf, name: String },
    #[error("{path}: tensor {name} holds NaN or infinite values")]
    NonFinite { path: PathBuf, name: String },
    #[error("{path}: {source}")]
    Tensor {
        path: PathBuf,
        source: candle_core::Error,
    },
}

/// Every tensor a config calls for, with its shape, in a stable order.
pub fn expected_tensors(config: &PolicyConfig, input_size: usize) -> Vec<(String, Vec<usize>)> {
    let g = gates(config.cell);
    let mut expected = Vec::new();
    let mut input = input_size;
    for (k, &hidden) in config.hidden_sizes.iter().enumerate() {
        expected.push((format!("core.weight_ih_l{k}"), vec![g * hidden, input]));
        expected.push((format!("core.weight_hh_l{k}"), vec![g * hidden, hidden]));
        expected.push((format!("core.bias_ih_l{k}"), vec![g * hidden]));
        expected.push((format!("core.bias_hh_l{k}"), vec![g * hidden]));
        input = hidden;
    }
    expected.push(("head.weight".into(), vec![crate::action::SIZE, input]));
    expected.push(("head.bias".into(), vec![crate::action::SIZE]));
    expected
}

/// Reads and checks `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<PolicyConfig, CheckpointError> {
    let path = dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| CheckpointError::Io {
        path: path.clone(),
        source,
    })?;
    let config: PolicyConfig =
        serde_json::from_str(&text).map_err(|e| CheckpointError::Config {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    check_config(&config).map_err(|reason| CheckpointError::Config { path, reason })?;
    Ok(config)
}

/// The limits a config must respect before anything is allocated for it.
pub fn check_config(config: &PolicyConfig) -> Result<(), String> {
    if config.hidden_sizes.is_empty() {
        return Err("hidden_sizes is empty: the core needs at least one layer".into());
    }
    if let Some(&bad) = config
        .hidden_sizes
        .iter()
        .find(|&&h| h == 0 || h > MAX_HIDDEN)
    {
        return Err(format!("hidden size {bad} is outside 1..={MAX_HIDDEN}"));
    }
    if config.features.opponents > 3 {
        return Err(format!(
            "opponents is {}; Melee has at most 3",
            config.features.opponents
        ));
    }
    if let crate::config::Decoding::Sample { temperature } = config.decoding {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(format!(
                "sampling temperature {temperature} must be positive"
            ));
        }
    }
    Ok(())
}

/// Reads `dir/model.safetensors` and checks it holds exactly `expected`.
pub fn read_weights(
    dir: &Path,
    expected: &[(String, Vec<usize>)],
) -> Result<HashMap<String, Tensor>, CheckpointError> {
    let path = dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&path).map_err(|source| CheckpointError::Io {
        path: path.clone(),
        source,
    })?;
    let file =
        safetensors::SafeTensors::deserialize(&bytes).map_err(|e| CheckpointError::Weights {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    let mut names: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    names.sort();
    if let Some(extra) = names
        .iter()
        .find(|n| !expected.iter().any(|(e, _)| e == *n))
    {
        return Err(CheckpointError::Unexpected {
            path,
            name: extra.clone(),
        });
    }
    let mut tensors = HashMap::new();
    for (name, shape) in expected {
        let view = file.tensor(name).map_err(|_| CheckpointError::Missing {
            path: path.clone(),
            name: name.clone(),
            expected: shape.clone(),
        })?;
        if view.shape() != shape.as_slice() {
            return Err(CheckpointError::Shape {
                path,
                name: name.clone(),
                expected: shape.clone(),
                got: view.shape().to_vec(),
            });
        }
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            other => {
                return Err(CheckpointError::DType {
                    path,
                    name: name.clone(),
                    got: format!("{other:?}"),
                })
            }
        };
        let tensor = Tensor::from_raw_buffer(view.data(), dtype, shape, &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .map_err(|source| CheckpointError::Tensor {
                path: path.clone(),
                source,
            })?;
        let values = tensor
            .flatten_all()
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|source| CheckpointError::Tensor {
                path: path.clone(),
                source,
            })?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(CheckpointError::NonFinite {
                path,
                name: name.clone(),
            });
        }
        tensors.insert(name.clone(), tensor);
    }
    Ok(tensors)
}

/// An f32 tensor's bytes, as `safetensors::serialize` wants them. Shared
/// by every model family that writes checkpoints.
pub struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl F32View {
    pub fn new(shape: Vec<usize>, values: &[f32]) -> F32View {
        F32View {
            shape,
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

impl View for F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes `config.json` and `model.safetensors` into `dir`, each through a
/// temporary file and a rename, so a reader never sees half a checkpoint.
pub fn write(
    dir: &Path,
    config: &PolicyConfig,
    tensors: &[(String, Tensor)],
) -> Result<(), CheckpointError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckpointError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let mut views = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        let values = tensor
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|source| CheckpointError::Tensor {
                path: weights_path.clone(),
                source,
            })?;
        views.push((name.clone(), F32View::new(tensor.dims().to_vec(), &values)));
    }
    let bytes = safetensors::serialize(views, None).map_err(|e| CheckpointError::Weights {
        path: weights_path.clone(),
        reason: e.to_string(),
    })?;
    replace(&weights_path, &bytes).map_err(io(&weights_path))?;
    let config_path = dir.join(CONFIG_FILE);
    let mut json = serde_json::to_string_pretty(config).map_err(|e| CheckpointError::Config {
        path: config_path.clone(),
        reason: e.to_string(),
    })?;
    json.push('\n');
    replace(&config_path, json.as_bytes()).map_err(io(&config_path))
}

fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
