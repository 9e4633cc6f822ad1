//! A slippi-ai model's `config.json`, and its translation from slippi-ai's
//! own training config.
//!
//! slippi-ai stores a large nested config dict with every checkpoint. Only
//! a few of its values shape the network fourstock runs; [`SlippiConfig`]
//! keeps exactly those, and [`SlippiConfig::from_slippi`] reads them out of
//! slippi-ai's dict, refusing, with the offending key named, any setting
//! fourstock does not implement.

use std::collections::BTreeMap;

use fourstock_policy::limits;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::SlippiError;

/// The `family` of every slippi-ai model's config.json; the daemon can tell
/// model families apart by it.
pub const FAMILY: &str = "slippi-ai";

/// Guards against absurd configs, checked before anything is allocated.
/// The layer width and depth are every family's
/// ([`fourstock_policy::limits`]); these are slippi-ai's own.
pub use fourstock_policy::limits::{MAX_HIDDEN, MAX_LAYERS};
pub const MAX_FFW_MULTIPLIER: usize = 64;
pub const MAX_COMPONENT_DEPTH: usize = 16;
pub const MAX_NAMES: usize = 1 << 16;

pub use fourstock_nn::kernel::Precision;
pub use fourstock_nn::layers::{Activation, LayerNormKind};

/// The `tx_like` core: a Linear encoder, then `num_layers` times a residual
/// LSTM and a residual feed-forward block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoreConfig {
    pub hidden_size: usize,
    pub num_layers: usize,
    pub ffw_multiplier: usize,
    pub activation: Activation,
    /// GELU's tanh approximation (true) or the exact erf form (false).
    pub gelu_approximate: bool,
    pub layer_norm: LayerNormKind,
}

/// The autoregressive controller head.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeadConfig {
    pub residual_size: usize,
    /// Hidden `Linear + relu` layers in each component's encoder.
    pub component_depth: usize,
}

/// What the embedding reads and how it scales it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbedConfig {
    pub xy_scale: f32,
    pub shield_scale: f32,
    /// Randall's position (Yoshi's Story) is part of the input.
    pub with_randall: bool,
    /// Fountain of Dreams' side platform heights are part of the input.
    pub with_fod: bool,
    /// Stick axes are discretised into `axis_spacing + 1` classes.
    pub axis_spacing: u32,
    /// The shoulder is discretised into `shoulder_spacing + 1` classes.
    pub shoulder_spacing: u32,
    /// Width of the player-name one-hot.
    pub max_names: usize,
}

/// A slippi-ai model's config.json, as fourstock serves it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlippiConfig {
    /// Always [`FAMILY`].
    pub family: String,
    /// Model name; the directory under models/.
    pub name: String,
    /// Where the model came from, for people reading it.
    #[serde(default)]
    pub description: String,
    pub core: CoreConfig,
    pub head: HeadConfig,
    pub embed: EmbedConfig,
    /// Reaction delay in frames (slippi-ai's `policy.delay`).
    pub delay: u32,
    /// slippi-ai's observation filter: the opponent's three tech actions
    /// read as a neutral tech for their first 7 frames.
    pub tech_mask: bool,
    /// Player names the policy learned to imitate, by name code.
    pub name_map: BTreeMap<String, u32>,
    /// The name imitated when serving; `None` leaves the name one-hot empty.
    pub player_name: Option<String>,
    /// Sampling temperature at serve time (slippi-ai's default is 1).
    pub temperature: f32,
    /// How the weight matrices are held while serving: `"f32"` as trained
    /// (the default), or `"f16"`, half the bytes a step reads, for large
    /// networks whose batch of one waits on memory.
    #[serde(default)]
    pub weight_precision: Precision,
}

impl SlippiConfig {
    /// Reads slippi-ai's config dict (as JSON) and its name map. `name` is
    /// the model name fourstock will serve it under.
    pub fn from_slippi(
        config: &Value,
        name_map: BTreeMap<String, u32>,
        name: &str,
    ) -> Result<SlippiConfig, SlippiError> {
        let c = Reader(config);
        if let Some(platform) = c.opt_str(&["platform"])? {
            if platform != "jax" {
                return Err(SlippiError::unsupported(format!(
                    "platform = {platform:?}; only JAX checkpoints are supported"
                )));
            }
        }
        let network = c.str_or(&["network", "name"], "mlp")?;
        if network != "tx_like" {
            return Err(SlippiError::unsupported(format!(
                "network.name = {network:?}; only \"tx_like\" is supported"
            )));
        }
        let embed_module = c.str_or(&["network", "embed", "name"], "simple")?;
        if embed_module != "simple" {
            return Err(SlippiError::unsupported(format!(
                "network.embed.name = {embed_module:?}; only \"simple\" is supported"
            )));
        }
        let tx = ["network", "tx_like"];
        let recurrent = c.str_or(&at(&tx, "recurrent_layer"), "lstm")?;
        if recurrent != "lstm" {
            return Err(SlippiError::unsupported(format!(
                "network.tx_like.recurrent_layer = {recurrent:?}; only \"lstm\" is supported"
            )));
        }
        let activation = match c.str_or(&at(&tx, "activation"), "gelu")?.as_str() {
            "relu" => Activation::Relu,
            "gelu" => Activation::Gelu,
            "tanh" => Activation::Tanh,
            other => {
                return Err(SlippiError::unsupported(format!(
                    "network.tx_like.activation = {other:?}; expected relu, gelu or tanh"
                )))
            }
        };
        let layer_norm = match c.str_or(&at(&tx, "layer_norm"), "nnx")?.as_str() {
            "nnx" => LayerNormKind::Nnx,
            "tensorflow" => LayerNormKind::Tensorflow,
            other => {
                return Err(SlippiError::unsupported(format!(
                    "network.tx_like.layer_norm = {other:?}; expected nnx or tensorflow"
                )))
            }
        };
        let core = CoreConfig {
            hidden_size: c.usize(&at(&tx, "hidden_size"))?,
            num_layers: c.usize(&at(&tx, "num_layers"))?,
            ffw_multiplier: c.usize(&at(&tx, "ffw_multiplier"))?,
            activation,
            gelu_approximate: c.bool_or(&at(&tx, "gelu_approximate"), true)?,
            layer_norm,
        };

        let head_name = c.str_or(&["controller_head", "name"], "independent")?;
        if head_name != "autoregressive" {
            return Err(SlippiError::unsupported(format!(
                "controller_head.name = {head_name:?}; only \"autoregressive\" is supported"
            )));
        }
        let ar = ["controller_head", "autoregressive"];
        if c.get(&at(&ar, "component")).is_some() {
            return Err(SlippiError::unsupported(
                "controller_head.autoregressive.component (a network per component) \
                 is a newer head layout; only residual_size/component_depth heads are supported",
            ));
        }
        let head = HeadConfig {
            residual_size: c.usize(&at(&ar, "residual_size"))?,
            component_depth: c.usize(&at(&ar, "component_depth"))?,
        };

        let player = ["embed", "player"];
        for (key, default) in [
            ("with_speeds", false),
            ("with_controller", false),
            ("with_nana", true),
            ("legacy_jumps_left", false),
        ] {
            if c.bool_or(&at(&player, key), default)? {
                return Err(SlippiError::unsupported(format!(
                    "embed.player.{key} = true; only false is supported"
                )));
            }
        }
        let controller_type = c.str_or(&["embed", "controller", "type"], "default")?;
        if controller_type != "default" {
            return Err(SlippiError::unsupported(format!(
                "embed.controller.type = {controller_type:?}; only \"default\" is supported"
            )));
        }
        let items = match c.get(&["embed", "items", "type"]) {
            None => "flat".to_string(),
            Some(v) => enum_value(v).ok_or_else(|| {
                SlippiError::config(format!("embed.items.type is not an enum value: {v}"))
            })?,
        };
        if items != "skip" {
            return Err(SlippiError::unsupported(format!(
                "embed.items.type = {items:?}; only SKIP (no item embedding) is supported"
            )));
        }
        let skip = c.u64_or(&["observation", "frame_skip", "skip"], 0)?;
        if skip != 0 {
            return Err(SlippiError::unsupported(format!(
                "observation.frame_skip.skip = {skip}; only 0 is supported"
            )));
        }
        let embed = EmbedConfig {
            xy_scale: c.f32_or(&at(&player, "xy_scale"), 0.05)?,
            shield_scale: c.f32_or(&at(&player, "shield_scale"), 0.01)?,
            with_randall: c.bool_or(&["embed", "with_randall"], true)?,
            with_fod: c.bool_or(&["embed", "with_fod"], true)?,
            axis_spacing: c.u32_or(&["embed", "controller", "default", "axis_spacing"], 16)?,
            shoulder_spacing: c
                .u32_or(&["embed", "controller", "default", "shoulder_spacing"], 4)?,
            max_names: c.usize(&["max_names"])?,
        };
        if embed.axis_spacing == 0 {
            return Err(SlippiError::unsupported(
                "embed.controller.default.axis_spacing = 0 (continuous sticks); \
                 only discretised sticks are supported",
            ));
        }

        let player_name = name_map
            .iter()
            .min_by_key(|(name, &code)| (code, (*name).clone()))
            .map(|(name, _)| name.clone());
        let config = SlippiConfig {
            family: FAMILY.into(),
            name: name.into(),
            description: String::new(),
            core,
            head,
            embed,
            delay: c.u32_or(&["policy", "delay"], 0)?,
            tech_mask: c.bool_or(&["observation", "animation", "mask"], true)?,
            name_map,
            player_name,
            temperature: 1.0,
            weight_precision: Precision::F32,
        };
        config.check()?;
        Ok(config)
    }

    /// The limits a config must respect before anything is allocated for it.
    pub fn check(&self) -> Result<(), SlippiError> {
        let bad = |reason: String| Err(SlippiError::config(reason));
        if self.family != FAMILY {
            return bad(format!("family is {:?}, expected {FAMILY:?}", self.family));
        }
        let within = |what: &str, v: usize, lo: usize, hi: usize| {
            limits::within(what, v, lo, hi).map_err(SlippiError::config)
        };
        within("core.hidden_size", self.core.hidden_size, 1, MAX_HIDDEN)?;
        within("core.num_layers", self.core.num_layers, 0, MAX_LAYERS)?;
        within(
            "core.ffw_multiplier",
            self.core.ffw_multiplier,
            1,
            MAX_FFW_MULTIPLIER,
        )?;
        within("head.residual_size", self.head.residual_size, 1, MAX_HIDDEN)?;
        within(
            "head.component_depth",
            self.head.component_depth,
            0,
            MAX_COMPONENT_DEPTH,
        )?;
        within("embed.max_names", self.embed.max_names, 1, MAX_NAMES)?;
        let spacing = |what: &str, v: u32, native: u32| {
            if v == 0 || !native.is_multiple_of(v) {
                Err(SlippiError::config(format!(
                    "{what} is {v}; it must divide {native}"
                )))
            } else {
                Ok(())
            }
        };
        spacing("embed.axis_spacing", self.embed.axis_spacing, 160)?;
        spacing("embed.shoulder_spacing", self.embed.shoulder_spacing, 140)?;
        for (what, v) in [
            ("embed.xy_scale", self.embed.xy_scale),
            ("embed.shield_scale", self.embed.shield_scale),
        ] {
            if !v.is_finite() {
                return bad(format!("{what} is {v}; it must be finite"));
            }
        }
        limits::temperature("temperature", self.temperature).map_err(SlippiError::config)?;
        if let Some(name) = &self.player_name {
            if !self.name_map.contains_key(name) {
                return bad(format!(
                    "player_name {name:?} is not in the name map {:?}",
                    self.name_map.keys().collect::<Vec<_>>()
                ));
            }
        }
        Ok(())
    }

    /// The name code the policy imitates, if any.
    pub fn name_code(&self) -> Option<u32> {
        self.player_name
            .as_ref()
            .and_then(|n| self.name_map.get(n).copied())
    }
}

fn at<'a>(prefix: &[&'a str], key: &'a str) -> Vec<&'a str> {
    let mut path = prefix.to_vec();
    path.push(key);
    path
}

/// The string an enum setting holds, lower-cased: `"ItemsType.SKIP"`,
/// `"skip"` and a stubbed pickle enum `{"__enum__": .., "value": "skip"}`
/// all read as `"skip"`.
pub(crate) fn enum_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.rsplit('.').next().unwrap_or(s).to_lowercase()),
        Value::Object(map) => map.get("value").and_then(enum_value),
        _ => None,
    }
}

/// Typed lookups into slippi-ai's config dict, with the key path in errors.
struct Reader<'a>(&'a Value);

impl Reader<'_> {
    fn get(&self, path: &[&str]) -> Option<&Value> {
        path.iter()
            .try_fold(self.0, |v, key| v.get(key))
            .filter(|v| !v.is_null())
    }

    fn wrong(&self, path: &[&str], expected: &str, got: &Value) -> SlippiError {
        SlippiError::config(format!("{} must be {expected}, got {got}", path.join(".")))
    }

    fn opt_str(&self, path: &[&str]) -> Result<Option<String>, SlippiError> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(path, "a string", other)),
        }
    }

    fn str_or(&self, path: &[&str], default: &str) -> Result<String, SlippiError> {
        Ok(self.opt_str(path)?.unwrap_or_else(|| default.into()))
    }

    fn bool_or(&self, path: &[&str], default: bool) -> Result<bool, SlippiError> {
        match self.get(path) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong(path, "a bool", other)),
        }
    }

    fn opt_u64(&self, path: &[&str]) -> Result<Option<u64>, SlippiError> {
        match self.get(path) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong(path, "a non-negative integer", v)),
        }
    }

    fn u64_or(&self, path: &[&str], default: u64) -> Result<u64, SlippiError> {
        Ok(self.opt_u64(path)?.unwrap_or(default))
    }

    fn u32_or(&self, path: &[&str], default: u32) -> Result<u32, SlippiError> {
        let v = self.u64_or(path, default as u64)?;
        u32::try_from(v)
            .map_err(|_| SlippiError::config(format!("{} = {v} is too large", path.join("."))))
    }

    fn usize(&self, path: &[&str]) -> Result<usize, SlippiError> {
        let v = self
            .opt_u64(path)?
            .ok_or_else(|| SlippiError::config(format!("{} is missing", path.join("."))))?;
        usize::try_from(v)
            .map_err(|_| SlippiError::config(format!("{} = {v} is too large", path.join("."))))
    }

    fn f32_or(&self, path: &[&str], default: f32) -> Result<f32, SlippiError> {
        match self.get(path) {
            None => Ok(default),
            Some(v) => v
                .as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| self.wrong(path, "a number", v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demo() -> Value {
        json!({
            "platform": "jax",
            "network": {
                "name": "tx_like",
                "tx_like": {"hidden_size": 8, "num_layers": 2, "ffw_multiplier": 4,
                            "recurrent_layer": "lstm", "activation": "gelu"},
                "embed": {"name": "simple"}
            },
            "controller_head": {"name": "autoregressive",
                                "autoregressive": {"residual_size": 4, "component_depth": 1}},
            "embed": {
                "player": {"xy_scale": 0.05, "shield_scale": 0.01, "with_speeds": false,
                           "with_controller": false, "with_nana": false,
                           "legacy_jumps_left": false},
                "controller": {"type": "default",
                               "default": {"axis_spacing": 4, "shoulder_spacing": 4}},
                "with_randall": true, "with_fod": true,
                "items": {"type": "ItemsType.SKIP"}
            },
            "policy": {"delay": 3},
            "observation": {"animation": {"mask": true}},
            "max_names": 16
        })
    }

    fn names() -> BTreeMap<String, u32> {
        BTreeMap::from([("b".to_string(), 1), ("a".to_string(), 0)])
    }

    #[test]
    fn reads_the_values_that_shape_the_network() {
        let c = SlippiConfig::from_slippi(&demo(), names(), "m").unwrap();
        assert_eq!(c.core.hidden_size, 8);
        assert_eq!(c.core.num_layers, 2);
        assert!(c.core.gelu_approximate, "absent key: slippi-ai's default");
        assert_eq!(c.core.layer_norm, LayerNormKind::Nnx);
        assert_eq!(c.head.component_depth, 1);
        assert_eq!(c.delay, 3);
        assert_eq!(c.embed.axis_spacing, 4);
        assert_eq!(c.player_name.as_deref(), Some("a"));
        assert_eq!(c.name_code(), Some(0));
        let text = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<SlippiConfig>(&text).unwrap(), c);
    }

    #[test]
    fn unsupported_settings_are_named() {
        let cases: [(&[&str], Value, &str); 6] = [
            (&["network", "name"], json!("mlp"), "network.name"),
            (
                &["network", "tx_like", "recurrent_layer"],
                json!("gru"),
                "recurrent_layer",
            ),
            (
                &["controller_head", "name"],
                json!("independent"),
                "controller_head.name",
            ),
            (&["embed", "player", "with_nana"], json!(true), "with_nana"),
            (
                &["embed", "items", "type"],
                json!({"__enum__": "x.ItemsType", "value": "flat"}),
                "items",
            ),
            (&["platform"], json!("tf"), "platform"),
        ];
        for (path, value, needle) in cases {
            let mut config = demo();
            let mut slot = &mut config;
            for key in path {
                slot = slot.get_mut(*key).unwrap();
            }
            *slot = value;
            match SlippiConfig::from_slippi(&config, names(), "m") {
                Err(SlippiError::Unsupported { what }) => {
                    assert!(what.contains(needle), "{what:?} should name {needle}")
                }
                other => panic!("{path:?}: expected Unsupported, got {other:?}"),
            }
        }
    }

    #[test]
    fn missing_and_mistyped_values_are_config_errors() {
        let mut config = demo();
        config["network"]["tx_like"]
            .as_object_mut()
            .unwrap()
            .remove("hidden_size");
        let err = SlippiConfig::from_slippi(&config, names(), "m").unwrap_err();
        assert!(err
            .to_string()
            .contains("network.tx_like.hidden_size is missing"));
        let mut config = demo();
        config["policy"]["delay"] = json!("three");
        let err = SlippiConfig::from_slippi(&config, names(), "m").unwrap_err();
        assert!(err.to_string().contains("policy.delay"), "{err}");
        let mut config = demo();
        config["network"]["tx_like"]["hidden_size"] = json!(1u64 << 40);
        assert!(SlippiConfig::from_slippi(&config, names(), "m").is_err());
    }

    #[test]
    fn the_temperature_has_a_range_naming_the_field() {
        let mut c = SlippiConfig::from_slippi(&demo(), names(), "m").unwrap();
        for ok in [limits::MIN_TEMPERATURE, 1.0, limits::MAX_TEMPERATURE] {
            c.temperature = ok;
            c.check().unwrap();
        }
        let hotter = f32::from_bits(limits::MAX_TEMPERATURE.to_bits() + 1);
        for bad in [hotter, 1e30, 0.0, f32::NAN] {
            c.temperature = bad;
            let err = c.check().unwrap_err().to_string();
            assert!(
                err.contains("temperature is") && err.contains("outside"),
                "{err}"
            );
        }
    }
}
