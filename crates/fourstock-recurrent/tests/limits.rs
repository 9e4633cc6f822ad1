//! A models folder whose config asks for more than the daemon allows is
//! refused at load, naming the field; at the limit it loads.

use std::path::{Path, PathBuf};

use fourstock_policy::{Family, ModelRegistry, RegistryError, MAX_DELAY};
use fourstock_recurrent::RecurrentFamily;

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
