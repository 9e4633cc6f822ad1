//! A model folder's `config.json`, read and written the one way every
//! family does.
//!
//! A model is a folder: `config.json` (its family's config, with a
//! `family` field unless it is fourstock's own) beside the family's weight
//! files. Reading parses the JSON into the family's config type and names
//! the file in every error, and a config over [`MAX_CONFIG_BYTES`] is
//! refused before it is read; writing goes through a temporary file and a
//! rename, so a reader (a daemon loading models, say) never sees half a
//! config.

use std::path::{Path, PathBuf};

use fourstock_proto::file::{self, FileError};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// The largest config (or `index.json`) read: 4 MiB. Real configs are
/// under 1 KB; the largest value one may hold is a slippi-ai name map,
/// at most 65536 names (`embed.max_names`), which at 64 bytes a name is
/// 4 MiB.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Why a model's config could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Over [`MAX_CONFIG_BYTES`], so not read.
    #[error("{path}: the file is {size} bytes, over the {cap}-byte cap for a model config")]
    TooLarge { path: PathBuf, size: u64, cap: u64 },
    /// Not JSON, or not the family's config.
    #[error("{path}: bad config: {reason}")]
    Json { path: PathBuf, reason: String },
    /// Well-formed, but a value is out of range or unsupported.
    #[error("{path}: bad config: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// Reads `dir/config.json` as a `T`.
pub fn read_config<T: DeserializeOwned>(dir: &Path) -> Result<T, ConfigError> {
    read_json(&dir.join(CONFIG_FILE))
}

/// Reads a JSON file as a `T`.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let bytes =
        file::read_capped(path, MAX_CONFIG_BYTES, "a model config").map_err(|e| match e {
            FileError::Io { path, source } => ConfigError::Io { path, source },
            FileError::TooLarge {
                path, size, cap, ..
            } => ConfigError::TooLarge { path, size, cap },
        })?;
    serde_json::from_slice(&bytes).map_err(|e| ConfigError::Json {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Writes `config` as `dir/config.json`, pretty-printed, atomically.
pub fn write_config<T: Serialize>(dir: &Path, config: &T) -> Result<(), ConfigError> {
    let path = dir.join(CONFIG_FILE);
    let mut json = serde_json::to_string_pretty(config).map_err(|e| ConfigError::Json {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    json.push('\n');
    fourstock_nn::safetensors::replace_file(&path, json.as_bytes())
        .map_err(|source| ConfigError::Io { path, source })
}

/// The `family` a model folder's config names, `None` when it names none;
/// `Err` when the config cannot be read as JSON at all.
pub fn family(dir: &Path) -> Result<Option<String>, ConfigError> {
    let config: serde_json::Value = read_config(dir)?;
    Ok(config
        .get("family")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string))
}
