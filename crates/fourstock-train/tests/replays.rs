//! A short, small training job on real Falco games from the shared
//! replays: the loss falls, the checkpoint reloads, it serves through the
//! daemon, and on a game it trained on it beats "repeat the previous input"
//! on the button head. Skips without the replays.

mod support;

use fourstock_recurrent::RecurrentPolicy;
use fourstock_replay::{read_replay, replay_files};
use fourstock_tests::fixtures::FALCO;
use fourstock_tests::shared::replays_dir;
use fourstock_train::dataset::{self, Selection};
use fourstock_train::{evaluate, train, TrainOptions};

use support::{serves_as_stepped_locally, tiny_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_falco_run_learns_reloads_serves_and_beats_repeating() {
    let Some(dir) = replays_dir("a_short_falco_run_learns_reloads_serves_and_beats_repeating")
    else {
        return;
    };
    let config = tiny_config("falco-test", vec![32], 6, vec![FALCO]);
    let selection = Selection {
        characters: config.characters.clone(),
        competitive: true,
        delay: config.delay,
        reset: config.reset,
    };
    // The first two training-split games with a human Falco playing a
    // whole game (the shared folder also holds short test fixtures).
    let (train_files, _) = dataset::split(&replay_files(&dir).unwrap(), 15);
    let mut games = Vec::new();
    for path in &train_files {
        let Ok(replay) = read_replay(path) else {
            continue;
        };
        if dataset::rejection(&replay, true).is_some() {
            continue;
        }
        let sequences = dataset::game_sequences(&replay, &selection);
        if sequences.iter().any(|s| s.len() > 5000) {
            games.push((replay, sequences));
        }
        if games.len() == 2 {
            break;
        }
    }
    assert_eq!(games.len(), 2, "the shared replays hold Falco games");
    let sequences: Vec<_> = games.iter().flat_map(|(_, s)| s.clone()).collect();

    let out = std::env::temp_dir().join(format!("fourstock-train-falco-{}", std::process::id()));
    let options = TrainOptions {
        lanes: 8,
        window: 32,
        learning_rate: 3e-3,
        max_steps: 150,
        log_every: 0,
        seed: 1,
        out: Some(out.clone()),
        ..TrainOptions::default()
    };
    let (_, report) = train(config, &sequences, &options).unwrap();
    let (first, last) = report.first_and_last(15);
    println!(
        "{} steps, {:.0} frames/s, loss {first:.3} -> {last:.3}",
        report.steps,
        report.frames_per_second()
    );
    assert!(last < 0.6 * first, "loss {first} -> {last}");

    let policy = RecurrentPolicy::load(&out).unwrap();
    let evaluation = evaluate(&policy, &games[0].1[..1], 1).unwrap();
    println!("{evaluation}");
    let (p, r) = (&evaluation.policy[0], &evaluation.repeat[0]);
    assert!(
        p.accuracy > r.accuracy,
        "buttons: policy {p:?}, repeat {r:?}"
    );

    serves_as_stepped_locally(policy, &games[0].0.messages, &games[0].1[0], 1500).await;
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn resets_match_the_replay_summary() {
    let Some(dir) = replays_dir("resets_match_the_replay_summary") else {
        return;
    };
    let selection = Selection {
        characters: vec![],
        competitive: false,
        delay: 0,
        reset: Default::default(),
    };
    let mut checked = 0;
    for path in replay_files(&dir).unwrap().iter().take(10) {
        let Ok(replay) = read_replay(path) else {
            continue;
        };
        for sequence in dataset::game_sequences(&replay, &selection) {
            if sequence.len() != replay.summary.frames {
                continue; // a port that left the game early
            }
            let resets = (0..sequence.len()).filter(|&t| sequence.reset(t)).count();
            assert_eq!(
                resets,
                replay.summary.expected_resets(),
                "{}",
                sequence.file
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}
