//! The models a front end serves, the [`Family`] trait that loads them,
//! and the rule that picks one for a port.
//!
//! A models folder holds `index.json` (`{"default": "NAME"}`) and one
//! folder per model with a `config.json`. The config's `family` field
//! names the [`Family`] that loads the folder (fourstock's own LSTM/GRU
//! models name none: [`UNNAMED_FAMILY`]). The registry knows families only
//! through the trait, and only the ones its caller registers, so a front
//! end links no family itself: the command line registers them. Whatever
//! the family, a model that declares a reaction delay over
//! [`crate::MAX_DELAY`] frames is refused at load, naming the field.
//!
//! A port gets the model its handshake names; else the first model (by
//! name) whose config lists the port's character; else the default. The
//! choice comes with the reason, for the Welcome and the logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fourstock_proto::PortRequest;
use serde::Deserialize;

use crate::limits::MAX_DELAY;
use crate::model_dir::{self, ConfigError};
use crate::policy::Policy;

/// The family of a model whose config names none: fourstock's own.
pub const UNNAMED_FAMILY: &str = "fourstock";

/// Any error a family reports while loading a model.
pub type LoadError = Box<dyn std::error::Error + Send + Sync>;

/// A model family: loads the model folders whose config names it.
pub trait Family: Send + Sync {
    /// The `family` its models' configs name ([`UNNAMED_FAMILY`] for
    /// fourstock's own).
    fn name(&self) -> &'static str;

    /// Loads the model in `dir`.
    fn load(&self, dir: &Path) -> Result<Arc<dyn Policy>, LoadError>;
}

/// Why a models folder could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Index { path: PathBuf, reason: String },
    #[error("model {name}: {source}")]
    Config { name: String, source: ConfigError },
    #[error("model {name}: no family {family:?} is registered (known: {known:?})")]
    UnknownFamily {
        name: String,
        family: String,
        known: Vec<&'static str>,
    },
    #[error("model {name}: {source}")]
    Model { name: String, source: LoadError },
    #[error("model {name}: {field} is {value}; at most {max} is allowed")]
    OutOfRange {
        name: String,
        field: &'static str,
        value: u64,
        max: u64,
    },
}

#[derive(Deserialize)]
struct Index {
    default: String,
}

/// Every model a front end serves, by name.
pub struct ModelRegistry {
    models: BTreeMap<String, Arc<dyn Policy>>,
    default: String,
}

impl ModelRegistry {
    /// A registry with one model, which is the default.
    pub fn single(policy: Arc<dyn Policy>) -> ModelRegistry {
        let name = policy.info().name.clone();
        let mut models = BTreeMap::new();
        models.insert(name.clone(), policy);
        ModelRegistry {
            models,
            default: name,
        }
    }

    /// Adds a model under its own name.
    pub fn insert(&mut self, policy: Arc<dyn Policy>) {
        let name = policy.info().name.clone();
        self.models.insert(name, policy);
    }

    /// Loads every model under `dir`, as `index.json` describes, each by
    /// the one of `families` its config names.
    pub fn load(dir: &Path, families: &[&dyn Family]) -> Result<ModelRegistry, RegistryError> {
        let index_path = dir.join("index.json");
        let index: Index = model_dir::read_json(&index_path).map_err(|e| RegistryError::Index {
            path: index_path.clone(),
            reason: match e {
                ConfigError::Io { source, .. } => source.to_string(),
                ConfigError::TooLarge { size, cap, .. } => {
                    format!("the file is {size} bytes, over the {cap}-byte cap")
                }
                ConfigError::Json { reason, .. } | ConfigError::Invalid { reason, .. } => reason,
            },
        })?;
        let entries = std::fs::read_dir(dir).map_err(|source| RegistryError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut folders: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join(model_dir::CONFIG_FILE).is_file())
            .collect();
        folders.sort();
        let mut models = BTreeMap::new();
        for folder in folders {
            let name = folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let family = model_dir::family(&folder)
                .map_err(|source| RegistryError::Config {
                    name: name.clone(),
                    source,
                })?
                .unwrap_or_else(|| UNNAMED_FAMILY.to_string());
            let Some(loader) = families.iter().find(|f| f.name() == family) else {
                return Err(RegistryError::UnknownFamily {
                    name,
                    family,
                    known: families.iter().map(|f| f.name()).collect(),
                });
            };
            let policy = loader
                .load(&folder)
                .map_err(|source| RegistryError::Model {
                    name: name.clone(),
                    source,
                })?;
            let delay = policy.info().delay;
            if delay > MAX_DELAY {
                return Err(RegistryError::OutOfRange {
                    name,
                    field: "delay",
                    value: delay.into(),
                    max: MAX_DELAY.into(),
                });
            }
            models.insert(name, policy);
        }
        if !models.contains_key(&index.default) {
            return Err(RegistryError::Index {
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

    /// The model named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Policy>> {
        self.models.get(name)
    }

    /// The model for one requested port, and why it was chosen; `Err` names
    /// an unknown requested model.
    pub fn choose(&self, request: &PortRequest) -> Result<(Arc<dyn Policy>, String), String> {
        if let Some(name) = &request.model {
            return match self.models.get(name) {
                Some(policy) => Ok((policy.clone(), "requested by the client".into())),
                None => Err(format!(
                    "port {} asks for model {name:?}; this daemon serves {:?}",
                    request.port,
                    self.names()
                )),
            };
        }
        if let Some((name, policy)) = self
            .models
            .iter()
            .find(|(_, p)| p.info().characters.contains(&request.character))
        {
            return Ok((
                policy.clone(),
                format!("{name} is made for character {}", request.character),
            ));
        }
        Ok((
            self.models[&self.default].clone(),
            format!(
                "default model: none is made for character {}",
                request.character
            ),
        ))
    }
}
