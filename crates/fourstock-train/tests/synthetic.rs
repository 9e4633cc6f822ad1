//! A short, small training job on synthetic games, run on every `cargo
//! test`: the loss falls, the run is reproducible, the checkpoint reloads,
//! the policy beats both baselines, and it serves through the daemon.

mod support;

use fourstock_recurrent::RecurrentPolicy;
use fourstock_train::{evaluate, train, TrainOptions};

use support::{serves_as_stepped_locally, synthetic_game, synthetic_sequences, tiny_config};

fn options(steps: usize) -> TrainOptions {
    TrainOptions {
        lanes: 8,
        window: 16,
        learning_rate: 1e-2,
        max_steps: steps,
        log_every: 0,
        seed: 7,
        ..TrainOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_model_learns_synthetic_games_reloads_and_serves() {
    let config = tiny_config("synthetic", vec![16], 2, vec![]);
    let sequences = synthetic_sequences(3, 400, &config);
    let dir =
        std::env::temp_dir().join(format!("fourstock-train-synthetic-{}", std::process::id()));
    let mut opts = options(200);
    opts.out = Some(dir.clone());
    opts.checkpoint_every = 100;
    let (model, report) = train(config.clone(), &sequences, &opts).unwrap();

    let (first, last) = report.first_and_last(20);
    assert!(last < 0.3 * first, "loss {first} -> {last}");
    assert_eq!(report.frames, 200 * 8 * 16);

    // The checkpoint is the model, and it loads as the daemon loads it.
    let loaded = RecurrentPolicy::load(&dir).unwrap();
    assert_eq!(loaded.config(), model.config());
    for ((name, a), (_, b)) in loaded.tensors().iter().zip(model.tensors().unwrap()) {
        let diff = (a - &b).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name}");
    }

    // On a game it trained on, it beats both baselines on every head.
    let evaluation = evaluate(&loaded, &sequences[..2], 4).unwrap();
    println!("{evaluation}");
    for h in 0..6 {
        let (p, r, f) = (
            &evaluation.policy[h],
            &evaluation.repeat[h],
            &evaluation.frequent[h],
        );
        assert!(
            p.accuracy >= r.accuracy && p.accuracy >= f.accuracy,
            "head {h}: {p:?} {r:?} {f:?}"
        );
    }
    assert!(evaluation.policy[0].accuracy > evaluation.repeat[0].accuracy);

    // Served by a real daemon, it answers as it steps here, resets included.
    let messages = synthetic_game(400, 0, 200);
    serves_as_stepped_locally(loaded, &messages, &sequences[1], 350).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn training_is_seeded_and_reproducible() {
    let config = tiny_config("seeded", vec![8], 2, vec![]);
    let sequences = synthetic_sequences(2, 200, &config);
    let run = |seed| {
        let mut opts = options(15);
        opts.seed = seed;
        train(config.clone(), &sequences, &opts).unwrap().1.losses
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
}

#[test]
fn resets_fall_at_match_start_and_stock_loss() {
    let config = tiny_config("resets", vec![8], 3, vec![]);
    let messages = synthetic_game(300, 0, 150);
    let seq = fourstock_train::Sequence::new("g".into(), 2, 2, &messages, 3, config.reset);
    assert_eq!(seq.len(), 300 - 3);
    let resets: Vec<i32> = (0..seq.len())
        .filter(|&t| seq.reset(t))
        .map(|t| seq.frame(t).frame)
        .collect();
    assert_eq!(resets, vec![-123, 150]);
    // The target is the controller 3 frames on.
    assert_eq!(
        seq.target(10),
        fourstock_train::Target::of(&seq.frame(13).player(2).unwrap().controller)
    );
}

#[test]
fn fine_tuning_starts_from_the_given_weights() {
    let config = tiny_config("tuned", vec![8], 2, vec![]);
    let sequences = synthetic_sequences(1, 100, &config);
    let base = RecurrentPolicy::initialize(config.clone(), 99).unwrap();
    let mut opts = options(0);
    opts.init = Some(base.tensors().to_vec());
    let (model, _) = train(config, &sequences, &opts).unwrap();
    for ((name, a), (_, b)) in base.tensors().iter().zip(model.tensors().unwrap()) {
        let diff = (a - &b).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name}");
    }
}

#[test]
fn a_mirrored_sequence_flips_its_inputs_and_twice_is_the_original() {
    let config = tiny_config("mirror", vec![8], 2, vec![]);
    let sequences = synthetic_sequences(1, 120, &config);
    let seq = &sequences[0];
    let mirrored = seq.mirrored();
    assert!(mirrored.mirrored && !seq.mirrored);
    assert_eq!(mirrored.len(), seq.len());
    let top = fourstock_recurrent::action::STICK_CLASSES as u8 - 1;
    let mut flipped = 0;
    for t in 0..seq.len() {
        let (a, b) = (seq.target(t), mirrored.target(t));
        assert_eq!(a.buttons, b.buttons, "sample {t}");
        assert_eq!(b.sticks[0], top - a.sticks[0], "main x, sample {t}");
        assert_eq!(b.sticks[1], a.sticks[1], "main y, sample {t}");
        assert_eq!(b.shoulder, a.shoulder);
        assert_eq!(seq.reset(t), mirrored.reset(t));
        assert_eq!(seq.frame(t).players[0].x, -mirrored.frame(t).players[0].x);
        flipped += (a.sticks[0] != b.sticks[0]) as usize;
    }
    assert!(flipped > 0, "the game moves the main stick sideways");
    let back = mirrored.mirrored();
    for t in 0..seq.len() {
        assert_eq!(back.frame(t), seq.frame(t), "sample {t}");
    }
}

#[test]
fn early_stopping_keeps_the_weights_of_the_best_validation() {
    // Validation is the training games' mirror image: learning "right" on
    // phases 3..6 helps it at first (the buttons and the shoulder agree),
    // then hurts it, so its loss has a best point before the end.
    let config = tiny_config("early", vec![16], 2, vec![]);
    let sequences = synthetic_sequences(2, 300, &config);
    let validation: Vec<_> = sequences.iter().map(|s| s.mirrored()).collect();
    let mut opts = options(300);
    opts.validate_every = 10;
    opts.patience = Some(2);
    let (stopped, report) = fourstock_train::train_validated(
        config.clone(),
        &sequences,
        &validation,
        &opts,
        &mut |_| {},
    )
    .unwrap();
    let (best_step, _) = report.best.expect("validation ran");
    assert!(report.stopped_early, "{:?}", report.curve);
    assert!(
        best_step < report.steps,
        "best {best_step} of {}",
        report.steps
    );
    assert_eq!(
        report.steps,
        best_step + 30,
        "stops 3 validations after the best"
    );
    // The weights kept are those of the best step: a run of exactly that
    // many steps (same seed, same windows) ends with the same weights.
    let (to_best, _) = train(config, &sequences, &options(best_step)).unwrap();
    for ((name, a), (_, b)) in stopped
        .tensors()
        .unwrap()
        .iter()
        .zip(to_best.tensors().unwrap())
    {
        let diff = (a - &b).unwrap().abs().unwrap().max_all().unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{name}");
    }
    let points = report
        .curve
        .iter()
        .filter(|p| p.validation_loss.is_some())
        .count();
    assert_eq!(points, report.steps / 10);
}
