//! The featurizer against slippi-ai's own embedding of 1200 frames of a
//! real game (`embedded_inputs.safetensors`), and its layout against the
//! one slippi-ai reported (`checkpoint_config.json`).

mod common;

use candle_core::Device;
use fourstock_slippi::tech_mask::TechMask;
use fourstock_slippi::{ControllerSpace, SlippiModel};
use serde_json::Value;

const TOLERANCE: f64 = 1e-6;

#[test]
fn layout_matches_slippi_ai() {
    let Some(dir) = common::parity_dir("layout_matches_slippi_ai") else {
        return;
    };
    let model = SlippiModel::load_converted(&dir).unwrap();
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("checkpoint_config.json")).unwrap())
            .unwrap();
    let expected = doc["embedded_input_layout"].as_array().unwrap();
    let layout = model.featurizer().layout();
    assert_eq!(layout.len(), expected.len());
    for (ours, theirs) in layout.iter().zip(expected) {
        assert_eq!(ours.field, theirs["field"].as_str().unwrap());
        assert_eq!(
            ours.offset as u64,
            theirs["offset"].as_u64().unwrap(),
            "{}",
            ours.field
        );
        assert_eq!(
            ours.size as u64,
            theirs["size"].as_u64().unwrap(),
            "{}",
            ours.field
        );
    }
    assert_eq!(
        model.featurizer().size() as u64,
        doc["summary"]["embedded_input_size"].as_u64().unwrap()
    );
}

#[test]
fn featurizer_matches_slippi_ai_on_every_frame() {
    let Some(dir) = common::parity_dir("featurizer_matches_slippi_ai_on_every_frame") else {
        return;
    };
    let model = SlippiModel::load_converted(&dir).unwrap();
    let frames = common::frames(&dir);
    let golden =
        candle_core::safetensors::load(dir.join("embedded_inputs.safetensors"), &Device::Cpu)
            .unwrap();
    let golden = golden["embedded_inputs"].to_vec2::<f32>().unwrap();
    assert_eq!(golden.len(), 1200);
    let featurizer = model.featurizer();
    let mut row = vec![0f32; featurizer.size()];
    let mut worst = common::MaxError::default();
    for (frame, want) in frames.iter().zip(&golden) {
        featurizer.write(
            &frame.observation(),
            &frame.prev_action(),
            Some(frame.name_code),
            &mut row,
        );
        let want: Vec<f64> = want.iter().map(|&v| v as f64).collect();
        worst.update(&row, &want, || format!("frame {}", frame.t));
    }
    println!(
        "featurizer: max abs error {:.3e} ({})",
        worst.value, worst.at
    );
    assert!(worst.value <= TOLERANCE, "{worst:?}");
}

#[test]
fn previous_controller_is_discretised_as_slippi_ai_does() {
    let Some(dir) = common::parity_dir("previous_controller_is_discretised_as_slippi_ai_does")
    else {
        return;
    };
    let model = SlippiModel::load_converted(&dir).unwrap();
    let space: ControllerSpace = model.featurizer().controller_space();
    for frame in common::frames(&dir) {
        let raw = &frame.prev_action_raw;
        let b = &raw.buttons;
        let mut wire = fourstock_proto::ControllerState::NEUTRAL;
        for (pressed, bit) in [
            (b.a, fourstock_proto::Buttons::A),
            (b.b, fourstock_proto::Buttons::B),
            (b.x, fourstock_proto::Buttons::X),
            (b.y, fourstock_proto::Buttons::Y),
            (b.z, fourstock_proto::Buttons::Z),
            (b.l, fourstock_proto::Buttons::L),
            (b.r, fourstock_proto::Buttons::R),
            (b.d_up, fourstock_proto::Buttons::D_UP),
        ] {
            wire.buttons.set(bit, pressed);
        }
        wire.main_x = raw.main_stick.x as f32;
        wire.main_y = raw.main_stick.y as f32;
        wire.c_x = raw.c_stick.x as f32;
        wire.c_y = raw.c_stick.y as f32;
        wire.l_trigger = raw.shoulder as f32;
        assert_eq!(
            space.encode(&wire),
            frame.prev_action(),
            "frame {}",
            frame.t
        );
    }
}

#[test]
fn tech_mask_reproduces_the_filtered_opponent_actions() {
    let Some(dir) = common::parity_dir("tech_mask_reproduces_the_filtered_opponent_actions") else {
        return;
    };
    let mut mask = TechMask::new();
    for frame in common::frames(&dir) {
        let raw = frame
            .p1
            .action_unfiltered
            .expect("p1 has action_unfiltered");
        assert_eq!(mask.apply(raw), frame.p1.action, "frame {}", frame.t);
    }
}
