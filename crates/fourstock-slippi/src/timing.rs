//! A random model at the size slippi-ai's agents are practically served,
//! for benchmarks: `tx_like` 3 x 512 LSTM (feed-forward multiplier 2), an
//! autoregressive head with residual 128 and component depth 2, about
//! 10.5 M parameters; slippi-ai's own JAX agent was timed at this size.

use std::collections::BTreeMap;
use std::path::Path;

use crate::config::{
    Activation, CoreConfig, EmbedConfig, HeadConfig, LayerNormKind, Precision, FAMILY,
};
use crate::{weights, SlippiConfig, SlippiError, SlippiModel};

/// The practical-size config, named `name`.
pub fn practical_config(name: &str) -> SlippiConfig {
    SlippiConfig {
        family: FAMILY.into(),
        name: name.into(),
        description: "random weights at slippi-ai's practical size, for timing".into(),
        core: CoreConfig {
            hidden_size: 512,
            num_layers: 3,
            ffw_multiplier: 2,
            activation: Activation::Gelu,
            gelu_approximate: true,
            layer_norm: LayerNormKind::Nnx,
        },
        head: HeadConfig {
            residual_size: 128,
            component_depth: 2,
        },
        embed: EmbedConfig {
            xy_scale: 0.05,
            shield_scale: 0.01,
            with_randall: true,
            with_fod: true,
            axis_spacing: 4,
            shoulder_spacing: 4,
            max_names: 16,
        },
        delay: 0,
        tech_mask: true,
        name_map: BTreeMap::from([("Player".to_string(), 0)]),
        player_name: Some("Player".into()),
        temperature: 1.0,
        weight_precision: Precision::F32,
    }
}

/// Writes a practical-size model with seeded random weights into `dir`,
/// as `fourstock import` would, to be served in `precision`; returns its
/// parameter count.
pub fn write_practical_model(
    dir: &Path,
    name: &str,
    seed: u64,
    precision: Precision,
) -> Result<usize, SlippiError> {
    let config = SlippiConfig {
        weight_precision: precision,
        ..practical_config(name)
    };
    let tensors = weights::random_tensors(&config, seed);
    SlippiModel::write_dir(dir, &config, &tensors)?;
    Ok(tensors.iter().map(|(_, t)| t.values.len()).sum())
}
