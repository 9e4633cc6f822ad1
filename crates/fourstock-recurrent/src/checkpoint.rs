//! Checkpoints on disk: `NAME/config.json` and `NAME/model.safetensors`.
//!
//! Tensor names follow PyTorch's `nn.LSTM` / `nn.GRU` (layout and gate
//! order too) under a `core.` prefix, and `nn.Linear` under `head.`, so a
//! policy trained in PyTorch loads unchanged:
//! `core.weight_ih_l{k}` (G*H_k, in_k), `core.weight_hh_l{k}` (G*H_k, H_k),
//! `core.bias_ih_l{k}` (G*H_k), `core.bias_hh_l{k}` (G*H_k), `head.weight`
//! (81, H_last), `head.bias` (81); G is 4 for an LSTM and 3 for a GRU.
//!
//! Everything read is untrusted: the config is checked here, the weights
//! by [`fourstock_nn::safetensors::read`] against the tensors the config
//! calls for, and a failure is a [`CheckpointError`] naming the file, the
//! tensor and the expected shape.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::Tensor;
use fourstock_nn::safetensors::{self, F32Tensor, WeightsError};
use fourstock_policy::limits::{self, within, MAX_LAYERS};
use fourstock_policy::model_dir::{self, ConfigError};

use crate::action;
use crate::config::PolicyConfig;
use crate::core::gates;

pub use fourstock_policy::model_dir::{CONFIG_FILE, WEIGHTS_FILE};

/// The largest layer the loader accepts; a guard against absurd configs.
pub use fourstock_policy::limits::MAX_HIDDEN;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Boxed: it names a file, a tensor and two shapes.
    #[error(transparent)]
    Weights(Box<WeightsError>),
    #[error("{path}: {source}")]
    Tensor {
        path: PathBuf,
        source: candle_core::Error,
    },
}

impl From<WeightsError> for CheckpointError {
    fn from(error: WeightsError) -> Self {
        CheckpointError::Weights(Box::new(error))
    }
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
    let config: PolicyConfig = model_dir::read_config(dir)?;
    check_config(&config).map_err(|reason| ConfigError::Invalid {
        path: dir.join(CONFIG_FILE),
        reason,
    })?;
    Ok(config)
}

/// The limits a config must respect before anything is allocated for it;
/// the reason names the field. The ranges are [`fourstock_policy::limits`]'s.
pub fn check_config(config: &PolicyConfig) -> Result<(), String> {
    if config.hidden_sizes.is_empty() {
        return Err("hidden_sizes is empty: the core needs at least one layer".into());
    }
    within(
        "hidden_sizes.len()",
        config.hidden_sizes.len(),
        1,
        MAX_LAYERS,
    )?;
    for (k, &hidden) in config.hidden_sizes.iter().enumerate() {
        within(&format!("hidden_sizes[{k}]"), hidden, 1, MAX_HIDDEN)?;
    }
    // Melee has at most 3 opponents; the feature vector grows with each.
    within("features.opponents", config.features.opponents, 0, 3)?;
    match &config.decoding {
        crate::config::Decoding::Sample { temperature } => {
            limits::temperature("decoding.temperature", *temperature)?;
        }
        crate::config::Decoding::Calibrated { bias, persistence } => {
            within(
                "decoding.bias.len()",
                bias.len(),
                action::SIZE,
                action::SIZE,
            )?;
            limits::decision_bias("decoding.bias", bias)?;
            if !persistence.is_empty() {
                let outputs = action::OUTPUTS;
                within(
                    "decoding.persistence.len()",
                    persistence.len(),
                    outputs,
                    outputs,
                )?;
                limits::decision_bias("decoding.persistence", persistence)?;
            }
        }
        crate::config::Decoding::Argmax => {}
    }
    Ok(())
}

/// Reads `dir/model.safetensors` and checks it holds exactly `expected`.
pub fn read_weights(
    dir: &Path,
    expected: &[(String, Vec<usize>)],
) -> Result<HashMap<String, Tensor>, CheckpointError> {
    Ok(safetensors::read(&dir.join(WEIGHTS_FILE), expected)?)
}

/// Writes `config.json` and `model.safetensors` into `dir`, each through a
/// temporary file and a rename, so a reader never sees half a checkpoint.
pub fn write(
    dir: &Path,
    config: &PolicyConfig,
    tensors: &[(String, Tensor)],
) -> Result<(), CheckpointError> {
    std::fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let tensors = tensors
        .iter()
        .map(|(name, tensor)| Ok((name.clone(), F32Tensor::from_tensor(tensor)?)))
        .collect::<candle_core::Result<Vec<_>>>()
        .map_err(|source| CheckpointError::Tensor {
            path: weights_path.clone(),
            source,
        })?;
    safetensors::write(&weights_path, &tensors)?;
    Ok(model_dir::write_config(dir, config)?)
}
