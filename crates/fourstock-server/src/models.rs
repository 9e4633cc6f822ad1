//! The models a daemon serves, and the rule that picks one for a port.
//!
//! A models folder holds `index.json` (`{"default": "NAME"}`) and one
//! folder per model, `NAME/config.json` plus `NAME/model.safetensors`:
//! fourstock's own recurrent policies, or slippi-ai policies imported with
//! `fourstock import slippi-ai` (their config names the family).
//! A port gets the model its handshake names; else the first model whose
//! config lists the port's character; else the default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fourstock_policy::{Policy, RecurrentPolicy};
use fourstock_proto::PortRequest;
use fourstock_slippi::SlippiPolicy;
use serde::Deserialize;

/// Why a models folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Index { path: PathBuf, reason: String },
    #[error("model {name}: {source}")]
    Model {
        name: String,
        source: Box<fourstock_policy::CheckpointError>,
    },
    #[error("slippi-ai model {name}: {source}")]
    SlippiModel {
        name: String,
        source: Box<fourstock_slippi::SlippiError>,
    },
}

#[derive(Deserialize)]
struct Index {
    default: String,
}

/// A loaded model and the characters it was made for.
struct Entry {
    policy: Arc<dyn Policy>,
    characters: Vec<u8>,
}

/// Every model the daemon serves.
pub struct ModelRegistry {
    models: BTreeMap<String, Entry>,
    default: String,
}

impl ModelRegistry {
    /// A registry with one model, which is the default.
    pub fn single(policy: Arc<dyn Policy>) -> ModelRegistry {
        let name = policy.info().name.clone();
        let mut models = BTreeMap::new();
        models.insert(
            name.clone(),
            Entry {
                policy,
                characters: Vec::new(),
            },
        );
        ModelRegistry {
            models,
            default: name,
        }
    }

    /// Adds a model made for `characters` (empty for none in particular).
    pub fn insert(&mut self, policy: Arc<dyn Policy>, characters: Vec<u8>) {
        let name = policy.info().name.clone();
        self.models.insert(name, Entry { policy, characters });
    }

    /// Loads every model under `dir`, as `index.json` describes.
    pub fn load(dir: &Path) -> Result<ModelRegistry, ModelsError> {
        let index_path = dir.join("index.json");
        let text = std::fs::read_to_string(&index_path).map_err(|source| ModelsError::Io {
            path: index_path.clone(),
            source,
        })?;
        let index: Index = serde_json::from_str(&text).map_err(|e| ModelsError::Index {
            path: index_path.clone(),
            reason: e.to_string(),
        })?;
        let entries = std::fs::read_dir(dir).map_err(|source| ModelsError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut folders: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("config.json").is_file())
            .collect();
        folders.sort();
        let mut models = BTreeMap::new();
        for folder in folders {
            let name = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let entry = if fourstock_slippi::is_slippi_model(&folder) {
                let policy =
                    SlippiPolicy::load(&folder).map_err(|source| ModelsError::SlippiModel {
                        name: name.clone(),
                        source: Box::new(source),
                    })?;
                Entry {
                    policy: Arc::new(policy),
                    characters: Vec::new(),
                }
            } else {
                let policy =
                    RecurrentPolicy::load(&folder).map_err(|source| ModelsError::Model {
                        name: name.clone(),
                        source: Box::new(source),
                    })?;
                Entry {
                    characters: policy.config().characters.clone(),
                    policy: Arc::new(policy),
                }
            };
            models.insert(name, entry);
        }
        if !models.contains_key(&index.default) {
            return Err(ModelsError::Index {
                path: index_path,
                reason: format!(
                    "default model {:?} has no folder with a config.json",
                    index.default
                ),
            });
        }
        Ok(ModelRegistry {
            models,
            default: index.default,
        })
    }

    /// The names of every model, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.models.keys().map(String::as_str).collect()
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// The model for one requested port, and why it was chosen; `Err` names
    /// an unknown requested model.
    pub fn choose(&self, request: &PortRequest) -> Result<(Arc<dyn Policy>, String), String> {
        if let Some(name) = &request.model {
            return match self.models.get(name) {
                Some(entry) => Ok((entry.policy.clone(), "requested by the client".into())),
                None => Err(format!(
                    "port {} asks for model {name:?}; this daemon serves {:?}",
                    request.port,
                    self.names()
                )),
            };
        }
        if let Some((name, entry)) = self
            .models
            .iter()
            .find(|(_, e)| e.characters.contains(&request.character))
        {
            return Ok((
                entry.policy.clone(),
                format!("{name} is made for character {}", request.character),
            ));
        }
        let entry = &self.models[&self.default];
        Ok((
            entry.policy.clone(),
            format!(
                "default model: none is made for character {}",
                request.character
            ),
        ))
    }
}
