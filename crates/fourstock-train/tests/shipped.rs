//! The models shipped in models/ load as the daemon loads them: the
//! trained generic model is the default, a character model is picked for
//! its character, and every trained model says so in its config.

use std::path::Path;

use fourstock_policy::ModelRegistry;
use fourstock_proto::PortRequest;
use fourstock_recurrent::RecurrentFamily;
use fourstock_recurrent::{CellKind, Decoding, RecurrentPolicy};

const FALCO: u8 = 20;
const PEACH: u8 = 12;

fn models() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"))
}

#[test]
fn the_daemon_serves_the_trained_models_by_character() {
    let registry = ModelRegistry::load(models(), &[&RecurrentFamily]).unwrap();
    assert_eq!(registry.default_name(), "generic-lstm");
    assert!(registry.names().contains(&"untrained-lstm"));
    let request = |character| PortRequest {
        port: 1,
        character,
        model: None,
        player_name: None,
    };
    let (falco, why) = registry.choose(&request(FALCO)).unwrap();
    assert_eq!(falco.info().name, "falco-lstm", "{why}");
    let (other, why) = registry.choose(&request(PEACH)).unwrap();
    assert_eq!(other.info().name, "generic-lstm", "{why}");
}

#[test]
fn trained_models_say_so_and_carry_a_card() {
    for name in [
        "generic-lstm",
        "falco-lstm",
        "generic-gru-d18",
        "generic-gru-d21",
    ] {
        let dir = models().join(name);
        let policy = RecurrentPolicy::load(&dir).unwrap();
        assert!(policy.config().trained, "{name}");
        assert!(
            policy.config().delay > 0,
            "{name}: delay 0 would copy its input"
        );
        let card = std::fs::read_to_string(dir.join("MODEL_CARD.md")).unwrap();
        assert!(
            card.contains("| buttons"),
            "{name}: the card has the held-out table"
        );
    }
}

#[test]
fn the_leaderboard_models_are_calibrated_grus_at_their_delays() {
    for (name, delay) in [("generic-gru-d18", 18), ("generic-gru-d21", 21)] {
        let dir = models().join(name);
        let policy = RecurrentPolicy::load(&dir).unwrap();
        let config = policy.config();
        assert_eq!(
            (config.cell, config.delay),
            (CellKind::Gru, delay),
            "{name}"
        );
        assert!(config.characters.is_empty(), "{name} is generic");
        assert!(
            matches!(&config.decoding, Decoding::Calibrated { persistence, .. } if !persistence.is_empty()),
            "{name}: {:?}",
            config.decoding
        );
        let card = std::fs::read_to_string(dir.join("MODEL_CARD.md")).unwrap();
        assert!(card.contains("## Calibration"), "{name}");
        assert_eq!(
            card.matches("Margins over the baselines").count(),
            2,
            "{name}: how sure each held-out comparison is"
        );
    }
}
