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
//! Files are read and written by [`fourstock_nn::safetensors`], which
//! checks exactly the expected names, the expected shapes, a float dtype
//! (converted to f32) and finite values.

use std::collections::HashMap;

use candle_core::Tensor;
use fourstock_nn::kernel::Precision;
use fourstock_nn::layers::Linear;
use fourstock_nn::F32Tensor;

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

/// Checked tensors by name, taken out one by one as the network is built,
/// and the precision its weight matrices are held in.
#[derive(Debug, Default)]
pub struct WeightMap {
    tensors: HashMap<String, Tensor>,
    precision: Precision,
}

impl WeightMap {
    pub fn new(tensors: HashMap<String, Tensor>, precision: Precision) -> WeightMap {
        WeightMap { tensors, precision }
    }

    /// How the network's weight matrices are held.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The `Linear` whose kernel and bias are the tensors named so.
    pub fn linear(&mut self, kernel: &str, bias: &str) -> Result<Linear, SlippiError> {
        let (kernel, bias) = (self.take(kernel)?, self.take(bias)?);
        Ok(Linear::with_precision(kernel, Some(bias), self.precision)?)
    }

    /// The tensor `name`; the names were checked against the config
    /// before, so a missing one is a bug in the network's construction.
    pub fn take(&mut self, name: &str) -> Result<Tensor, SlippiError> {
        self.tensors
            .remove(name)
            .ok_or_else(|| SlippiError::config(format!("tensor {name} is missing")))
    }

    /// The names left over.
    pub fn remaining(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tensors.keys().cloned().collect();
        names.sort();
        names
    }
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
