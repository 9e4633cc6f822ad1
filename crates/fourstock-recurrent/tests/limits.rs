//! A models folder whose config asks for more than the daemon allows is
//! refused at load, naming the field; at the limit it loads.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use fourstock_nn::safetensors::MAX_WEIGHTS_BYTES;
use fourstock_policy::limits::{MAX_HIDDEN, MAX_LAYERS, MAX_TEMPERATURE, MIN_TEMPERATURE};
use fourstock_policy::model_dir::MAX_CONFIG_BYTES;
use fourstock_policy::{model_dir, Family, ModelRegistry, RegistryError, MAX_DELAY};
use fourstock_recurrent::featurizer::Featurizer;
use fourstock_recurrent::{action, checkpoint, CellKind, Decoding, PolicyConfig, RecurrentFamily};

/// A models folder holding the shipped untrained model with its `delay`
/// set to `delay`.
fn models_with_delay(delay: u32) -> PathBuf {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/untrained-lstm");
    let dir = std::env::temp_dir().join(format!("fourstock-limits-{}-{delay}", std::process::id()));
    let model = dir.join("untrained-lstm");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(
        shipped.join("model.safetensors"),
        model.join("model.safetensors"),
    )
    .unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped.join("config.json")).unwrap())
            .unwrap();
    config["delay"] = delay.into();
    std::fs::write(model.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("index.json"), r#"{"default": "untrained-lstm"}"#).unwrap();
    dir
}

#[test]
fn a_delay_over_the_limit_is_refused_naming_the_field() {
    let families: [&dyn Family; 1] = [&RecurrentFamily];
    let at_limit = models_with_delay(MAX_DELAY);
    let models = ModelRegistry::load(&at_limit, &families).expect("delay 120 loads");
    assert_eq!(
        models.get("untrained-lstm").unwrap().info().delay,
        MAX_DELAY
    );
    for delay in [MAX_DELAY + 1, u32::MAX] {
        let dir = models_with_delay(delay);
        match ModelRegistry::load(&dir, &families) {
            Err(error @ RegistryError::OutOfRange { field: "delay", .. }) => {
                let text = error.to_string();
                assert!(
                    text.contains("delay is") && text.contains("at most 120"),
                    "{text}"
                );
            }
            Err(other) => panic!("delay {delay}: expected OutOfRange, got {other}"),
            Ok(_) => panic!("delay {delay} was accepted"),
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::remove_dir_all(at_limit).unwrap();
}

/// A models folder holding one model, `m`, of `config`, every weight zero,
/// written without checking the config, so it may be out of range.
fn models_of(config: &PolicyConfig, tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fourstock-limits-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let input = Featurizer::new(&config.features).size();
    let tensors: Vec<(String, Tensor)> = checkpoint::expected_tensors(config, input)
        .into_iter()
        .map(|(name, shape)| {
            (
                name,
                Tensor::zeros(shape, DType::F32, &Device::Cpu).unwrap(),
            )
        })
        .collect();
    checkpoint::write(&dir.join("m"), config, &tensors).unwrap();
    std::fs::write(dir.join("index.json"), r#"{"default": "m"}"#).unwrap();
    dir
}

/// Loads the folder `dir` names and removes it; the error's text if refused.
fn load(dir: PathBuf) -> Result<(), String> {
    let families: [&dyn Family; 1] = [&RecurrentFamily];
    let loaded = ModelRegistry::load(&dir, &families)
        .map(|_| ())
        .map_err(|e| e.to_string());
    std::fs::remove_dir_all(dir).unwrap();
    loaded
}

fn small(hidden_sizes: Vec<usize>) -> PolicyConfig {
    PolicyConfig::new("m".into(), CellKind::Gru, hidden_sizes, false, 0)
}

#[test]
fn more_layers_than_the_limit_are_refused_naming_the_field() {
    load(models_of(&small(vec![1; MAX_LAYERS]), "layers-at")).expect("64 layers load");
    let text = load(models_of(&small(vec![1; MAX_LAYERS + 1]), "layers-over"))
        .expect_err("65 layers were accepted");
    assert!(
        text.contains("hidden_sizes.len() is 65, outside 1..=64"),
        "{text}"
    );
}

#[test]
fn a_layer_over_the_widest_is_refused_naming_the_field() {
    // A 16384-wide layer's weights are 4 GiB and more, so the widest
    // is checked on the config alone; one past it is refused at load too.
    checkpoint::check_config(&small(vec![8, MAX_HIDDEN])).expect("the widest layer is allowed");
    let reason = checkpoint::check_config(&small(vec![8, MAX_HIDDEN + 1])).unwrap_err();
    assert_eq!(reason, "hidden_sizes[1] is 16385, outside 1..=16384");
    let mut config = small(vec![8, 8]);
    let dir = models_of(&config, "wide");
    config.hidden_sizes[1] = MAX_HIDDEN + 1;
    model_dir::write_config(&dir.join("m"), &config).unwrap();
    let text = load(dir).expect_err("a 16385-wide layer was accepted");
    assert!(text.contains("hidden_sizes[1] is 16385"), "{text}");
}

#[test]
fn a_sampling_temperature_out_of_range_is_refused_naming_the_field() {
    let with = |temperature: f32, tag: &str| {
        let mut config = small(vec![4]);
        config.decoding = Decoding::Sample { temperature };
        models_of(&config, tag)
    };
    load(with(MIN_TEMPERATURE, "cold")).expect("the coldest temperature loads");
    load(with(MAX_TEMPERATURE, "hot")).expect("the hottest temperature loads");
    let colder = f32::from_bits(MIN_TEMPERATURE.to_bits() - 1);
    let hotter = f32::from_bits(MAX_TEMPERATURE.to_bits() + 1);
    for (n, bad) in [colder, hotter, 1e30, 0.0].into_iter().enumerate() {
        let text = load(with(bad, &format!("bad-{n}")))
            .expect_err(&format!("temperature {bad} was accepted"));
        assert!(
            text.contains("decoding.temperature is") && text.contains("outside"),
            "{text}"
        );
    }
}

#[test]
fn a_calibration_of_the_wrong_length_or_out_of_range_is_refused_naming_the_field() {
    let with = |bias: Vec<f32>, persistence: Vec<f32>, tag: &str| {
        let mut config = small(vec![4]);
        config.decoding = Decoding::Calibrated { bias, persistence };
        models_of(&config, tag)
    };
    let (size, outputs) = (action::SIZE, action::OUTPUTS);
    load(with(vec![0.5; size], vec![1.0; outputs], "fine")).expect("a calibration loads");
    load(with(vec![0.5; size], Vec::new(), "no-keep")).expect("persistence is optional");
    for (n, (bias, keep, field)) in [
        (vec![0.0; size - 1], Vec::new(), "decoding.bias.len() is 80"),
        (
            vec![0.0; size],
            vec![0.0; 2],
            "decoding.persistence.len() is 2",
        ),
        (vec![1000.0; size], Vec::new(), "decoding.bias[0] is 1000"),
        (
            vec![0.0; size],
            vec![1e9; outputs],
            "decoding.persistence[0] is",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let text = load(with(bias, keep, &format!("bad-{n}"))).expect_err(field);
        assert!(text.contains(field), "{text}");
    }
}

/// Makes the file at `path` `len` bytes long without writing them.
fn stretch(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_weight_file_over_its_cap_is_refused_before_it_is_read() {
    let dir = models_of(&small(vec![4]), "big-weights");
    stretch(&dir.join("m/model.safetensors"), MAX_WEIGHTS_BYTES + 1);
    let text = load(dir).expect_err("an oversized weight file was accepted");
    assert!(
        text.contains(&format!(
            "model.safetensors: the file is {} bytes, over the {MAX_WEIGHTS_BYTES}-byte cap",
            MAX_WEIGHTS_BYTES + 1
        )),
        "{text}"
    );
}

#[test]
fn a_config_over_its_cap_is_refused_before_it_is_read() {
    let dir = models_of(&small(vec![4]), "big-config");
    stretch(&dir.join("m/config.json"), MAX_CONFIG_BYTES + 1);
    let text = load(dir).expect_err("an oversized config was accepted");
    assert!(
        text.contains(&format!(
            "config.json: the file is {} bytes, over the {MAX_CONFIG_BYTES}-byte cap",
            MAX_CONFIG_BYTES + 1
        )),
        "{text}"
    );
}
