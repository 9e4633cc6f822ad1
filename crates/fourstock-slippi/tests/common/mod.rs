//! The parity data slippi-ai's own code produced (see HOW.md there), read
//! into this crate's types. Tests find it through `FOURSTOCK_SLIPPI_PARITY`
//! (default `<crate>/../../../shared/slippi-ai-parity`) and skip, saying
//! so, when it is absent.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Once;

use fourstock_slippi::controller::COMPONENT_NAMES;
use fourstock_slippi::{ControllerClasses, Observation, PlayerObservation};
use serde::Deserialize;

/// The parity folder, or `None` after printing a SKIP line.
///
/// Also runs candle single-threaded, as the daemon does: candle re-reads
/// RAYON_NUM_THREADS on every matmul, and handing batch-1 matmuls to a
/// thread pool makes them many times slower.
pub fn parity_dir(test: &str) -> Option<PathBuf> {
    static SINGLE_THREADED: Once = Once::new();
    SINGLE_THREADED.call_once(|| {
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            std::env::set_var("RAYON_NUM_THREADS", "1");
        }
    });
    let dir = std::env::var_os("FOURSTOCK_SLIPPI_PARITY")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/slippi-ai-parity")
        });
    if dir.join("HOW.md").is_file() {
        Some(dir)
    } else {
        println!(
            "SKIP: {test}: no slippi-ai parity data at {} (set FOURSTOCK_SLIPPI_PARITY)",
            dir.display()
        );
        None
    }
}

#[derive(Deserialize)]
pub struct Xy {
    pub x: f64,
    pub y: f64,
}

#[derive(Deserialize)]
pub struct Fod {
    pub left: f64,
    pub right: f64,
}

#[derive(Deserialize)]
pub struct Buttons {
    #[serde(rename = "A")]
    pub a: bool,
    #[serde(rename = "B")]
    pub b: bool,
    #[serde(rename = "X")]
    pub x: bool,
    #[serde(rename = "Y")]
    pub y: bool,
    #[serde(rename = "Z")]
    pub z: bool,
    #[serde(rename = "L")]
    pub l: bool,
    #[serde(rename = "R")]
    pub r: bool,
    #[serde(rename = "D_UP")]
    pub d_up: bool,
}

#[derive(Deserialize)]
pub struct Controller {
    pub buttons: Buttons,
    pub main_stick: Xy,
    pub c_stick: Xy,
    pub shoulder: f64,
}

#[derive(Deserialize)]
pub struct Player {
    pub character: u8,
    pub action: u16,
    pub x: f64,
    pub y: f64,
    pub percent: u16,
    pub facing: bool,
    pub invulnerable: bool,
    pub jumps_left: u8,
    pub shield_strength: f64,
    pub on_ground: bool,
    pub action_unfiltered: Option<u16>,
    pub controller: Controller,
}

impl Player {
    pub fn observation(&self) -> PlayerObservation {
        PlayerObservation {
            character: self.character,
            action: self.action,
            x: self.x as f32,
            y: self.y as f32,
            percent: self.percent,
            facing: self.facing,
            invulnerable: self.invulnerable,
            jumps_left: self.jumps_left,
            shield_strength: self.shield_strength as f32,
            on_ground: self.on_ground,
        }
    }
}

/// One line of frames.jsonl.
#[derive(Deserialize)]
pub struct FrameLine {
    pub t: usize,
    pub stage: u8,
    pub randall: Xy,
    pub fod_platforms: Fod,
    pub name_code: u32,
    pub p0: Player,
    pub p1: Player,
    pub prev_action_raw: Controller,
    pub prev_action_encoded: BTreeMap<String, u8>,
}

impl FrameLine {
    pub fn observation(&self) -> Observation {
        Observation {
            stage: self.stage,
            p0: self.p0.observation(),
            p1: self.p1.observation(),
            randall: [self.randall.x as f32, self.randall.y as f32],
            fod_platforms: [
                self.fod_platforms.left as f32,
                self.fod_platforms.right as f32,
            ],
        }
    }

    pub fn prev_action(&self) -> ControllerClasses {
        classes(&self.prev_action_encoded)
    }
}

/// Component-name-to-class map in autoregressive order.
pub fn classes(map: &BTreeMap<String, u8>) -> ControllerClasses {
    let mut out = ControllerClasses::default();
    for (k, name) in COMPONENT_NAMES.iter().enumerate() {
        out.0[k] = *map
            .get(*name)
            .unwrap_or_else(|| panic!("component {name} missing"));
    }
    out
}

#[derive(Deserialize)]
pub struct Leaf {
    pub name: String,
    pub values: Vec<f64>,
}

#[derive(Deserialize)]
pub struct HeadEntry {
    pub component: String,
    pub logits: Vec<f64>,
    pub neg_log_prob: f64,
}

/// One line of golden.jsonl.
#[derive(Deserialize)]
pub struct GoldenLine {
    pub t: usize,
    pub prev_action_encoded: BTreeMap<String, u8>,
    pub target_action_encoded: BTreeMap<String, u8>,
    pub core_output: Vec<f64>,
    pub hidden_state_after: Vec<Leaf>,
    pub head: Vec<HeadEntry>,
    pub total_neg_log_prob: f64,
}

pub fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Vec<T> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let line = line.unwrap();
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

pub fn frames(dir: &Path) -> Vec<FrameLine> {
    read_jsonl(&dir.join("frames.jsonl"))
}

/// Largest absolute difference, tracked with where it happened.
#[derive(Default, Debug)]
pub struct MaxError {
    pub value: f64,
    pub at: String,
}

impl MaxError {
    /// Folds in one slice of results; NaN counts as infinitely wrong.
    pub fn update(&mut self, got: &[f32], want: &[f64], at: impl FnOnce() -> String) {
        assert_eq!(got.len(), want.len(), "length mismatch at {}", at());
        let worst = got
            .iter()
            .zip(want)
            .map(|(g, w)| {
                let e = (*g as f64 - w).abs();
                if e.is_nan() {
                    f64::INFINITY
                } else {
                    e
                }
            })
            .fold(0.0, f64::max);
        if worst > self.value || (self.at.is_empty() && worst == 0.0) {
            self.value = worst;
            self.at = at();
        }
    }
}
