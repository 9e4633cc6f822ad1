//! Importing a slippi-ai JAX checkpoint: the pickle slippi-ai saves
//! (`{"state": {"policy": {...}, ...}, "config": {...}, "name_map": {...}}`)
//! becomes a fourstock model folder, `config.json` plus
//! `model.safetensors`, that [`fourstock_slippi::SlippiPolicy::load`] serves.
//!
//! The pickle is read with the restricted reader in [`crate::pickle`], so
//! an untrusted file cannot run code. Only `state.policy` (the network's
//! parameters) is kept; optimiser and value-function state are ignored.
//! A checkpoint fourstock cannot serve is refused with an error naming
//! what is unsupported; TensorFlow checkpoints (a flat list of arrays in
//! Sonnet order) are among them.

use std::path::Path;

use fourstock_nn::{F32Tensor, WeightsError};
use fourstock_proto::file::{self, FileError};
use fourstock_slippi::model::{name_map_from_json, SlippiModel};
use fourstock_slippi::{SlippiConfig, SlippiError};
use serde_json::Value as Json;

use crate::error::ImportError;
use crate::pickle::{Object, Pickle, PickleError, Value};

/// The largest checkpoint read: 1 GiB. The demo checkpoints here are
/// 30 and 43 KB; a Phillip-size policy's weights are about 42 MB of f32,
/// and a checkpoint pickles them with a value network and Adam's two
/// moments for each, about six copies, 250 MB. The cap leaves four times
/// that, and the pickle is read whole, so it also bounds the memory an
/// import takes.
pub const MAX_CHECKPOINT_BYTES: u64 = 1 << 30;

/// What an import wrote.
#[derive(Clone, Debug)]
pub struct ImportReport {
    pub config: SlippiConfig,
    pub tensors: usize,
    pub parameters: usize,
}

/// Converts the slippi-ai checkpoint pickle at `pickle_path` into a model
/// folder at `out_dir` (created if needed). The model is named after the
/// folder.
pub fn import_checkpoint(pickle_path: &Path, out_dir: &Path) -> Result<ImportReport, ImportError> {
    let bytes = read_bounded(pickle_path)?;
    let name = out_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "slippi-ai".into());
    let Checkpoint { config, tensors } = convert_checkpoint(&bytes, pickle_path, &name)?;
    let parameters = tensors.iter().map(|(_, t)| t.values.len()).sum();
    SlippiModel::write_dir(out_dir, &config, &tensors)?;
    Ok(ImportReport {
        config,
        tensors: tensors.len(),
        parameters,
    })
}

/// A checkpoint read and converted, not yet written.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub config: SlippiConfig,
    /// The policy's parameters by name, sorted.
    pub tensors: Vec<(String, F32Tensor)>,
}

/// The pickle bytes of a checkpoint as the model `name`'s config and
/// tensors: everything [`import_checkpoint`] does short of the files.
/// `pickle_path` only names the checkpoint in errors and the description.
pub fn convert_checkpoint(
    bytes: &[u8],
    pickle_path: &Path,
    name: &str,
) -> Result<Checkpoint, ImportError> {
    let pickle_error = |source: PickleError| ImportError::Pickle {
        path: pickle_path.to_path_buf(),
        source,
    };
    let structure = |reason: String| pickle_error(PickleError::Structure(reason));
    let pickle = Pickle::parse(bytes).map_err(pickle_error)?;
    let root = pickle.root();
    if !matches!(pickle.object(root), Some(Object::Dict(_))) {
        return Err(structure(format!(
            "the checkpoint is a {}, not a dict",
            pickle.type_name(root)
        )));
    }
    let state = pickle
        .dict_get(root, "state")
        .ok_or_else(|| structure("no \"state\" at the top level".into()))?;
    let policy = pickle
        .dict_get(state, "policy")
        .ok_or_else(|| structure("no \"state.policy\"".into()))?;
    match pickle.object(policy) {
        Some(Object::Dict(_)) => {}
        Some(Object::Tuple(items) | Object::List(items)) => {
            return Err(SlippiError::unsupported(format!(
                "this is a TensorFlow checkpoint: state.policy is a flat list of {} arrays \
                 in Sonnet order; only JAX checkpoints (nested dicts of arrays) are supported",
                items.len()
            ))
            .into())
        }
        _ => {
            return Err(structure(format!(
                "state.policy is a {}, not a dict of arrays",
                pickle.type_name(policy)
            )))
        }
    }
    let config_json = pickle
        .dict_get(root, "config")
        .ok_or_else(|| structure("no \"config\" at the top level".into()))
        .and_then(|v| pickle.to_json(v).map_err(pickle_error))?;
    let name_map_json = match pickle.dict_get(root, "name_map") {
        Some(v) => Some(pickle.to_json(v).map_err(pickle_error)?),
        None => None,
    };
    let name_map = name_map_from_json(name_map_json.as_ref()).map_err(structure)?;
    let mut config = SlippiConfig::from_slippi(&config_json, name_map, name)?;
    // An RL checkpoint knows the name it was trained to play as.
    if let Some(rl_name) = rl_name(&pickle, root) {
        if config.name_map.contains_key(&rl_name) {
            config.player_name = Some(rl_name);
        }
    }
    config.description = format!(
        "imported from the slippi-ai checkpoint {}",
        pickle_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );

    let mut tensors = Vec::new();
    for (name, array) in pickle.arrays(policy).map_err(pickle_error)? {
        let path = pickle_path.to_path_buf();
        let values = array.to_f32().map_err(|got| WeightsError::DType {
            path: path.clone(),
            name: name.clone(),
            got,
        })?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(WeightsError::NonFinite { path, name }.into());
        }
        tensors.push((
            name,
            F32Tensor {
                shape: array.shape.clone(),
                values,
            },
        ));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Checkpoint { config, tensors })
}

/// `rl_config.agent.name` (or `agent_config.name`), first name if a list.
fn rl_name(pickle: &Pickle, root: Value) -> Option<String> {
    let agent = pickle
        .dict_get(root, "rl_config")
        .and_then(|rl| pickle.dict_get(rl, "agent"))
        .or_else(|| pickle.dict_get(root, "agent_config"))?;
    let name = pickle.to_json(pickle.dict_get(agent, "name")?).ok()?;
    match name {
        Json::String(s) => Some(s),
        Json::Array(items) => items.first().and_then(Json::as_str).map(str::to_string),
        _ => None,
    }
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, ImportError> {
    file::read_capped(path, MAX_CHECKPOINT_BYTES, "a slippi-ai checkpoint").map_err(|e| match e {
        FileError::Io { path, source } => ImportError::Io { path, source },
        too_large @ FileError::TooLarge { .. } => ImportError::TooLarge(too_large),
    })
}
