//! A model's `config.json`: architecture, features, delay, reset rule and
//! decoding. The same file is written by training and read by the daemon.

use fourstock_policy::ResetRule;
use serde::{Deserialize, Serialize};

/// The recurrent cell of every layer in the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    Lstm,
    Gru,
}

impl CellKind {
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }
}

impl std::str::FromStr for CellKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            other => Err(format!("unknown cell {other:?}: use lstm or gru")),
        }
    }
}

/// Which optional parts of the feature vector a model reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// The five speeds of every player, scaled by 0.5.
    #[serde(default)]
    pub speeds: bool,
    /// How many opponents follow the controlled player (missing ones are zeros).
    #[serde(default = "one")]
    pub opponents: usize,
}

fn one() -> usize {
    1
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            speeds: false,
            opponents: 1,
        }
    }
}

/// How logits become a controller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Decoding {
    /// The most likely class of every head; deterministic.
    #[default]
    Argmax,
    /// Seeded sampling with a temperature.
    Sample { temperature: f32 },
    /// The most likely class after adding `bias` (one value per logit, 81)
    /// to the logits, and `persistence` (one value per output: each
    /// button, each stick axis, the shoulder; 13, or none) to the logit of
    /// whatever the controller already holds: a button is pressed when
    /// its logit plus what is added is positive. The probabilities are
    /// unchanged; only the decision moves, so that rare inputs (a button,
    /// a stick tilt) are chosen, and held, about as often as the
    /// validation players did. `fourstock train --calibrate` fits both;
    /// deterministic.
    Calibrated {
        bias: Vec<f32>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        persistence: Vec<f32>,
    },
}

impl Decoding {
    /// What the deterministic decision adds, if anything: the bias per
    /// logit and the persistence per output.
    pub fn calibration(&self) -> Option<(&[f32], &[f32])> {
        match self {
            Decoding::Calibrated { bias, persistence } => Some((bias, persistence)),
            _ => None,
        }
    }
}

/// A model's config.json.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyConfig {
    /// Model name; the directory under models/.
    pub name: String,
    /// What people should know about it (how it was made, whether it is trained).
    #[serde(default)]
    pub description: String,
    /// False for a seeded initialisation that has seen no data.
    #[serde(default)]
    pub trained: bool,
    pub cell: CellKind,
    /// Hidden size of each recurrent layer, bottom first.
    pub hidden_sizes: Vec<usize>,
    #[serde(default)]
    pub features: FeatureConfig,
    /// Reaction delay in frames.
    #[serde(default)]
    pub delay: u32,
    #[serde(default)]
    pub reset: ResetRule,
    #[serde(default)]
    pub decoding: Decoding,
    /// Characters (external ids) this model was made for; empty for any.
    #[serde(default)]
    pub characters: Vec<u8>,
}

impl PolicyConfig {
    /// An untrained model's config of this shape, reading the speeds or
    /// not, with every other setting at its default: no description,
    /// fourstock's reset rule, argmax decoding, made for any character.
    pub fn new(
        name: String,
        cell: CellKind,
        hidden_sizes: Vec<usize>,
        speeds: bool,
        delay: u32,
    ) -> PolicyConfig {
        PolicyConfig {
            name,
            description: String::new(),
            trained: false,
            cell,
            hidden_sizes,
            features: FeatureConfig {
                speeds,
                ..FeatureConfig::default()
            },
            delay,
            reset: ResetRule::default(),
            decoding: Decoding::default(),
            characters: Vec::new(),
        }
    }
}
