//! A slippi-ai policy network put together (featurizer, `tx_like` core,
//! autoregressive head) and its folders on disk.
//!
//! Two folder forms are read:
//! - a fourstock model folder, `config.json` ([`SlippiConfig`]) plus
//!   `model.safetensors`, as `fourstock import slippi-ai` writes it;
//! - the already-converted form of the parity data:
//!   `checkpoint_config.json` (slippi-ai's config and name map),
//!   `policy_weights.safetensors` and `weights_index.json`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use candle_core::{Device, Tensor};
use fourstock_nn::safetensors::{self, F32Tensor, WeightsError};
use fourstock_policy::model_dir::{self, ConfigError, WEIGHTS_FILE};
use serde_json::Value;

use crate::config::SlippiConfig;
use crate::controller::{ControllerClasses, ControllerSpace};
use crate::core::TxLikeCore;
use crate::error::SlippiError;
use crate::featurizer::Featurizer;
use crate::head::AutoregressiveHead;
use crate::observation::Observation;
use crate::weights::{self, WeightMap};

pub const CONVERTED_CONFIG_FILE: &str = "checkpoint_config.json";
pub const CONVERTED_WEIGHTS_FILE: &str = "policy_weights.safetensors";
pub const CONVERTED_INDEX_FILE: &str = "weights_index.json";

/// A loaded slippi-ai policy network.
#[derive(Clone, Debug)]
pub struct SlippiModel {
    config: SlippiConfig,
    featurizer: Featurizer,
    core: TxLikeCore,
    head: AutoregressiveHead,
    /// How many weights the checkpoint held.
    parameters: u64,
}

impl SlippiModel {
    /// Builds the network from checked tensors named as slippi-ai names them.
    pub fn from_tensors(
        config: SlippiConfig,
        tensors: HashMap<String, Tensor>,
    ) -> Result<SlippiModel, SlippiError> {
        config.check()?;
        let found: Vec<(String, Vec<usize>)> = tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.dims().to_vec()))
            .collect();
        let here = Path::new(&config.name);
        safetensors::check_tensors(here, &found, &weights::expected_tensors(&config))?;
        let parameters = tensors.values().map(|t| t.elem_count() as u64).sum();
        let featurizer = Featurizer::new(&config.embed);
        let mut w = WeightMap::new(tensors, config.weight_precision);
        let core = TxLikeCore::from_weights(&config.core, &mut w)?;
        let space = ControllerSpace::new(&config.embed);
        let head = AutoregressiveHead::from_weights(&config.head, space, &mut w)?;
        if let Some(name) = w.remaining().into_iter().next() {
            let path = here.to_path_buf();
            return Err(WeightsError::Unexpected { path, name }.into());
        }
        Ok(SlippiModel {
            config,
            featurizer,
            core,
            head,
            parameters,
        })
    }

    /// Loads a fourstock model folder: `dir/config.json` and
    /// `dir/model.safetensors`.
    pub fn load(dir: &Path) -> Result<SlippiModel, SlippiError> {
        let config = read_config(dir)?;
        let expected = weights::expected_tensors(&config);
        let tensors = safetensors::read(&dir.join(WEIGHTS_FILE), &expected)?;
        Self::from_tensors(config, tensors)
    }

    /// Loads the already-converted form (see the module docs). The model is
    /// named after the folder.
    pub fn load_converted(dir: &Path) -> Result<SlippiModel, SlippiError> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "slippi-ai".into());
        let config_path = dir.join(CONVERTED_CONFIG_FILE);
        let doc: Value = model_dir::read_json(&config_path)?;
        let slippi = doc
            .get("upgraded_config")
            .or_else(|| doc.get("raw_config"))
            .ok_or_else(|| ConfigError::Json {
                path: config_path.clone(),
                reason: "neither upgraded_config nor raw_config is present".into(),
            })?;
        let name_map = name_map_from_json(doc.pointer("/summary/name_map")).map_err(|reason| {
            ConfigError::Json {
                path: config_path.clone(),
                reason,
            }
        })?;
        let mut config = SlippiConfig::from_slippi(slippi, name_map, &name)?;
        config.description = format!(
            "slippi-ai checkpoint {}, converted",
            doc.get("source_checkpoint")
                .and_then(Value::as_str)
                .unwrap_or("(unknown)")
        );
        let expected = weights::expected_tensors(&config);
        let index_path = dir.join(CONVERTED_INDEX_FILE);
        let index: Value = model_dir::read_json(&index_path)?;
        let listed = index_from_json(&index).map_err(|reason| ConfigError::Json {
            path: index_path.clone(),
            reason,
        })?;
        safetensors::check_tensors(&index_path, &listed, &expected)?;
        let tensors = safetensors::read(&dir.join(CONVERTED_WEIGHTS_FILE), &expected)?;
        Self::from_tensors(config, tensors)
    }

    /// Writes a fourstock model folder: `config.json` and
    /// `model.safetensors`, each replaced atomically. The tensors are
    /// checked against the config first.
    pub fn write_dir(
        dir: &Path,
        config: &SlippiConfig,
        tensors: &[(String, F32Tensor)],
    ) -> Result<(), SlippiError> {
        config.check()?;
        let found: Vec<(String, Vec<usize>)> = tensors
            .iter()
            .map(|(n, t)| (n.clone(), t.shape.clone()))
            .collect();
        let weights_path = dir.join(WEIGHTS_FILE);
        let expected = weights::expected_tensors(config);
        safetensors::check_tensors(&weights_path, &found, &expected)?;
        std::fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        safetensors::write(&weights_path, tensors)?;
        Ok(model_dir::write_config(dir, config)?)
    }

    /// How many weights the checkpoint held.
    pub fn parameters(&self) -> u64 {
        self.parameters
    }

    pub fn config(&self) -> &SlippiConfig {
        &self.config
    }

    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    pub fn core(&self) -> &TxLikeCore {
        &self.core
    }

    pub fn head(&self) -> &AutoregressiveHead {
        &self.head
    }

    /// The embedded inputs of a batch, `(batch, input)`: one row per
    /// (observation, previous controller, imitated player's name code), so
    /// ports imitating different players share a batch.
    pub fn embed(
        &self,
        rows: &[(Observation, ControllerClasses, Option<u32>)],
    ) -> candle_core::Result<Tensor> {
        let width = self.featurizer.size();
        let mut values = vec![0f32; rows.len() * width];
        for ((obs, prev, name_code), out) in rows.iter().zip(values.chunks_mut(width)) {
            self.featurizer.write(obs, prev, *name_code, out);
        }
        Tensor::from_vec(values, (rows.len(), width), &Device::Cpu)
    }
}

/// Reads and checks `dir/config.json`.
pub fn read_config(dir: &Path) -> Result<SlippiConfig, SlippiError> {
    let config: SlippiConfig = model_dir::read_config(dir)?;
    config.check()?;
    Ok(config)
}

/// A `{name: code}` object as a name map.
pub fn name_map_from_json(v: Option<&Value>) -> Result<BTreeMap<String, u32>, String> {
    let Some(v) = v else {
        return Ok(BTreeMap::new());
    };
    let object = v.as_object().ok_or("name_map is not an object")?;
    object
        .iter()
        .map(|(name, code)| {
            code.as_u64()
                .and_then(|c| u32::try_from(c).ok())
                .map(|c| (name.clone(), c))
                .ok_or_else(|| format!("name_map[{name:?}] is not a name code: {code}"))
        })
        .collect()
}

fn index_from_json(index: &Value) -> Result<Vec<(String, Vec<usize>)>, String> {
    let tensors = index
        .get("tensors")
        .and_then(Value::as_array)
        .ok_or("no tensors list")?;
    tensors
        .iter()
        .map(|t| {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a tensor without a name")?;
            let shape = t
                .get("shape")
                .and_then(Value::as_array)
                .ok_or_else(|| format!("{name}: no shape"))?
                .iter()
                .map(|d| d.as_u64().map(|d| d as usize))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("{name}: a shape of non-integers"))?;
            Ok((name.to_string(), shape))
        })
        .collect()
}
