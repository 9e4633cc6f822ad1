//! The model loader: a folder's `config.json` and `model.safetensors`,
//! given as one input. The first two bytes (little-endian) are the
//! config's length, cut to what follows; the config comes next and the
//! weights are the rest ([`split`], and [`join`] to make seeds).
//!
//! The config's `family` picks the loader as the registry does: none is
//! fourstock's own recurrent family, `"slippi-ai"` the imported one. Each
//! path is the family's `load` without the file reads: the JSON into the
//! family's config, the config's checks, the tensors it calls for, the
//! checked safetensors reader ([`read_bytes`]), and the network built from
//! the tensors.

use std::path::Path;

use fourstock_nn::safetensors::read_bytes;
use fourstock_recurrent::checkpoint::{check_config, expected_tensors};
use fourstock_recurrent::featurizer::Featurizer;
use fourstock_recurrent::{PolicyConfig, RecurrentPolicy};
use fourstock_slippi::{SlippiConfig, SlippiModel};

/// One model folder, config and weights.
pub fn folder(data: &[u8]) {
    let (config, weights) = split(data);
    let family = serde_json::from_slice::<serde_json::Value>(config)
        .ok()
        .and_then(|v| v.get("family")?.as_str().map(str::to_string));
    match family.as_deref() {
        None => recurrent(config, weights),
        Some(fourstock_slippi::config::FAMILY) => slippi(config, weights),
        Some(_) => {}
    }
}

/// The config and the weights of an input.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return (&[], &[]);
    };
    let len = (u16::from_le_bytes(*len) as usize).min(rest.len());
    rest.split_at(len)
}

/// The input [`split`] takes apart into `config` and `weights`.
pub fn join(config: &[u8], weights: &[u8]) -> Vec<u8> {
    let len = u16::try_from(config.len()).expect("a config under 64 KB");
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(config);
    out.extend_from_slice(weights);
    out
}

fn recurrent(config: &[u8], weights: &[u8]) {
    let Ok(config) = serde_json::from_slice::<PolicyConfig>(config) else {
        return;
    };
    if check_config(&config).is_err() {
        return;
    }
    let input = Featurizer::new(&config.features).size();
    let expected = expected_tensors(&config, input);
    let Ok(tensors) = read_bytes(Path::new("model.safetensors"), weights, &expected) else {
        return;
    };
    let _ = RecurrentPolicy::from_tensors(config, tensors);
}

fn slippi(config: &[u8], weights: &[u8]) {
    let Ok(config) = serde_json::from_slice::<SlippiConfig>(config) else {
        return;
    };
    if config.check().is_err() {
        return;
    }
    let expected = fourstock_slippi::weights::expected_tensors(&config);
    let Ok(tensors) = read_bytes(Path::new("model.safetensors"), weights, &expected) else {
        return;
    };
    let _ = SlippiModel::from_tensors(config, tensors);
}
