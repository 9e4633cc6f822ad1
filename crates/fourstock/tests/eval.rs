//! `fourstock eval` on the shared replays with the shipped default model:
//! the table carries accuracy, loss and F1 for the policy and both
//! baselines; `--split players` scores only the held-out players' ports;
//! `--json` holds every head's per-class F1, the per-character breakdown
//! and the margins over the baselines with their resampled intervals.

mod daemon;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::fourstock;
use fourstock_tests::shared::replays_dir;

/// `fourstock eval` of the default model on `dir`'s held-out 15%, with
/// `extra` arguments; its output, having checked that it succeeded.
fn eval(dir: &Path, extra: &[&str]) -> std::process::Output {
    let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/generic-lstm");
    let mut args: Vec<&OsStr> = vec![
        "eval".as_ref(),
        model.as_os_str(),
        dir.as_os_str(),
        "--held-out-percent".as_ref(),
        "15".as_ref(),
    ];
    args.extend(extra.iter().map(OsStr::new));
    let out = fourstock(&args, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_table_has_f1_beside_accuracy_and_loss_for_every_predictor() {
    let Some(dir) = replays_dir("the_table_has_f1_beside_accuracy_and_loss_for_every_predictor")
    else {
        return;
    };
    let out = eval(&dir, &["--by", "character"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("held-out files (15%)"), "{stdout}");
    assert!(
        stdout.contains("| head     | policy acc | loss   | F1     | repeat acc | loss   | F1     | frequent acc | loss   | F1     |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("main stick moved (not neutral) F1"),
        "{stdout}"
    );
    assert!(stdout.contains("airdodge: on "), "{stdout}");
    assert!(
        stdout.contains("| Falco | "),
        "a row per character: {stdout}"
    );
    assert!(
        stdout.contains("with 95% intervals from 1000 resamples of the")
            && stdout.contains("| mean | "),
        "the margins table: {stdout}"
    );
}

#[test]
fn json_by_player_split_holds_per_class_f1_and_characters() {
    let Some(dir) = replays_dir("json_by_player_split_holds_per_class_f1_and_characters") else {
        return;
    };
    let run = |split: &str| {
        let out = eval(&dir, &["--split", split, "--by", "character", "--json"]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("one JSON object")
    };
    let players = run("players");
    let files = run("files");
    assert_eq!(players["split"], "held-out players (15%)");
    assert_ne!(
        players["frames"], files["frames"],
        "the two splits score different ports"
    );
    for predictor in ["policy", "repeat", "frequent"] {
        let heads = players[predictor].as_array().expect(predictor);
        assert_eq!(heads.len(), 6);
        for head in heads {
            let f1 = head["f1"].as_f64().expect("a macro F1");
            assert!((0.0..=1.0).contains(&f1), "{head}");
            assert!(head["accuracy"].is_f64() && head["loss"].is_f64());
        }
        assert_eq!(
            heads[0]["classes"].as_array().unwrap().len(),
            8,
            "one per button"
        );
        assert_eq!(
            heads[1]["classes"].as_array().unwrap().len(),
            17,
            "one per stick class"
        );
        let extras = &players[format!("{predictor}_extras")];
        assert!(extras["mean_f1"].is_f64() && extras["main_stick_moved_f1"].is_f64());
    }
    // Per head and the mean, each margin inside its interval.
    let margins = &players["margins"];
    assert_eq!(margins["resamples"], 1000);
    assert!(margins["players"].as_u64().unwrap() >= 2, "{margins}");
    let rows = margins["heads"].as_array().unwrap();
    assert_eq!(rows.len(), 7);
    for row in rows {
        for key in [
            "f1_over_repeat",
            "f1_over_frequent",
            "loss_under_repeat",
            "loss_under_frequent",
        ] {
            let i = &row[key];
            let (low, at, high) = (
                i["low"].as_f64().unwrap(),
                i["estimate"].as_f64().unwrap(),
                i["high"].as_f64().unwrap(),
            );
            assert!(low <= high, "{row}");
            assert!(low - 0.05 <= at && at <= high + 0.05, "{row}");
        }
    }
    let characters = players["by_character"].as_object().unwrap();
    assert!(characters.len() >= 2, "{characters:?}");
    let sum: u64 = characters
        .values()
        .map(|c| c["frames"].as_u64().unwrap())
        .sum();
    assert_eq!(
        Some(sum),
        players["frames"].as_u64(),
        "the characters add up"
    );
}
