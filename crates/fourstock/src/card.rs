//! The MODEL_CARD.md `fourstock train` writes beside a model: what it
//! learned from, how, the command that made it, what the training cost,
//! its loss curves, and its held-out tables (by file, by player, by
//! character) against both baselines. A card written by the run itself
//! cannot drift from the run; notes a person adds go below it by hand.

use std::fmt::Write as _;
use std::path::Path;

use fourstock_recurrent::PolicyConfig;
use fourstock_train::eval;
use fourstock_train::job::CalibrationReport;
use fourstock_train::{JobReport, Schedule, TrainJob};

/// Everything the card says that the report does not.
pub struct CardInput<'a> {
    pub config: &'a PolicyConfig,
    pub job: &'a TrainJob,
    /// The command line, as typed.
    pub command: String,
    /// Who the ports are, e.g. "every human player".
    pub who: &'a str,
    /// Threads candle ran on.
    pub threads: usize,
}

/// The card's Markdown.
pub fn render(input: &CardInput<'_>, report: &JobReport) -> String {
    let c = input.config;
    let o = &input.job.options;
    let t = &report.train;
    let shape = shape(&c.hidden_sizes);
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n\n{}\n", c.name, c.description);
    let _ = writeln!(
        s,
        "A policy for the fourstock daemon and the UMI bot, fitted by behavioural cloning \
         (imitation of human controller inputs) with `fourstock train`. It has never been \
         played against in Dolphin: expect it to move like the humans it copies in a rough \
         way, not to play well.\n"
    );
    let train_frames: usize = report.train_files.iter().map(|(_, n)| n).sum();
    let _ = writeln!(s, "## Data\n");
    let _ = writeln!(
        s,
        "- Source: `{}`; {}; unreadable replays skipped.",
        input.job.replays.display(),
        if input.job.competitive {
            "singles on a legal stage with items off"
        } else {
            "every ruleset"
        }
    );
    let _ = writeln!(
        s,
        "- Ports: {}; CPU players are never learned from.",
        input.who
    );
    let _ = writeln!(
        s,
        "- Sample: frame t seen from the port, paired with the controller that port held on \
         frame t + {} (the delay); the state resets where the daemon resets it.",
        c.delay
    );
    let _ = writeln!(
        s,
        "- Held out, never trained on: {} files ({}% by a hash of the file name: {} frames), \
         and every port of {} players ({}% by a hash of the connect code, an unnamed player \
         being a new person in each file: {} frames).",
        report.held_out_files.len(),
        input.job.held_out_percent,
        report.held_out.frames,
        report.held_out_players.len(),
        input.job.held_out_players_percent,
        report.held_out_by_player.frames
    );
    let _ = writeln!(
        s,
        "- Validation (early stopping and the curve): {} frames of {} players ({}% of the \
         rest, by a second hash): {}.",
        report.validation_frames,
        report.validation_players.len(),
        input.job.validation_percent,
        report.validation_players.join(", ")
    );
    let _ = writeln!(
        s,
        "- Training: {} frames from {} files{}.",
        train_frames,
        report.train_files.len(),
        if input.job.mirror {
            ", twice over with each game's left/right mirror image"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "- Held-out files: {}.", report.held_out_files.join(", "));
    let _ = writeln!(
        s,
        "- Held-out players: {}.\n",
        report.held_out_players.join(", ")
    );
    let _ = writeln!(s, "## Settings\n\n| setting | value |\n|---|---|");
    let _ = writeln!(s, "| cell, hidden | {}, {shape} |", c.cell.name());
    let _ = writeln!(
        s,
        "| features | speeds {}, {} opponent(s) |",
        c.features.speeds, c.features.opponents
    );
    let _ = writeln!(s, "| delay | {} frames |", c.delay);
    let _ = writeln!(
        s,
        "| batch | {} lanes x {}-frame windows (truncated BPTT, state carried) |",
        o.lanes, o.window
    );
    let _ = writeln!(
        s,
        "| optimizer | AdamW, lr {:e}, weight decay {:e}, global-norm clip {} |",
        o.learning_rate, o.weight_decay, o.clip
    );
    let schedule = match o.schedule {
        Schedule::Constant => "constant".to_string(),
        Schedule::Cosine { warmup, floor } => {
            format!("linear warm-up over {warmup} steps, then cosine to {floor} x lr")
        }
    };
    let _ = writeln!(s, "| schedule | {schedule} |");
    let _ = writeln!(s, "| mirror augmentation | {} |", input.job.mirror);
    let _ = writeln!(
        s,
        "| calibration | {} |",
        if input.job.calibrate {
            "a temperature per output, a decision bias and a persistence, fitted on the validation players"
        } else {
            "none (argmax decoding)"
        }
    );
    let _ = writeln!(
        s,
        "| early stopping | {} |",
        match o.patience {
            Some(p) => format!(
                "patience {p} validations of {} steps, best weights kept",
                o.validate_every
            ),
            None => "off (last weights kept)".into(),
        }
    );
    let _ = writeln!(
        s,
        "| steps | at most {}{} |",
        o.max_steps,
        o.max_time
            .map(|d| format!(" or {:.0} min", d.as_secs_f64() / 60.0))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "| seed | {} |\n", o.seed);
    let _ = writeln!(s, "Command:\n\n```\n{}\n```\n", input.command);
    let _ = writeln!(s, "## Training\n");
    let _ = writeln!(
        s,
        "- {} steps, {} frames in {:.0} s ({:.1} min), {:.0} frames/s, on {} candle thread(s) \
         of this 2-vCPU machine: **training compute {:.1} core-minutes**.",
        t.steps,
        t.frames,
        t.elapsed.as_secs_f64(),
        t.elapsed.as_secs_f64() / 60.0,
        t.frames_per_second(),
        input.threads,
        t.elapsed.as_secs_f64() / 60.0 * input.threads as f64
    );
    let (first, last) = t.first_and_last(50);
    let _ = writeln!(
        s,
        "- Training loss (sum over the 13 outputs): {first:.4} over the first 50 steps, \
         {last:.4} over the last 50."
    );
    if let Some((step, loss)) = t.best {
        let _ = writeln!(
            s,
            "- Best validation loss {loss:.4} at step {step}{}.",
            if t.stopped_early {
                "; early stopping ended the run and kept those weights"
            } else if o.patience.is_some() {
                "; those weights are kept"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        s,
        "\n![training and validation loss](curves.png)\n\nThe numbers are in `curves.csv`.\n"
    );
    if let Some(c) = &report.calibration {
        calibration(&mut s, c);
    }
    for (title, evaluation) in [
        ("Held-out files", &report.held_out),
        ("Held-out players", &report.held_out_by_player),
    ] {
        let _ = writeln!(s, "## {title}\n");
        let _ = writeln!(
            s,
            "{} frames, {} sequences, {} files.\n",
            evaluation.frames, evaluation.sequences, evaluation.files
        );
        let _ = write!(s, "{}", evaluation.all);
        if let Some(margins) = &evaluation.margins {
            let _ = write!(s, "\n{margins}");
        }
        let _ = writeln!(s, "\nBy character:\n\n{}", evaluation.character_table());
    }
    let _ = writeln!(
        s,
        "Accuracy is the policy's decision (argmax, after the calibration when there is one) \
         against the human's class (per button for the buttons, averaged over the 8); loss is the mean negative log-likelihood in nats; F1 is per class, \
         macro-averaged over the classes that occur or are predicted (each button's \
         \"pressed\"). Both baselines are fitted on the evaluated frames themselves, which \
         flatters them: \"repeat\" predicts the controller the policy last saw (frame t, for \
         the target on frame t + delay), \"frequent\" each head's commonest class."
    );
    s
}

/// The calibration section: what was fitted and what it did to the
/// validation players' figures.
fn calibration(s: &mut String, c: &CalibrationReport) {
    let _ = writeln!(
        s,
        "## Calibration
"
    );
    let _ = writeln!(
        s,
        "Fitted after training on the {} frames of the validation players (never on held-out \
         data): a temperature per output, folded into the head's weights; and, for the \
         `calibrated` decoding, a bias (per button; per stick axis and for the shoulder, one \
         tilt shared by every class but the neutral one) and a persistence added to the logit \
         of what the controller already holds, both chosen for macro F1. Bias and \
         persistence move decisions only (accuracy and F1), the temperature probabilities \
         only (the loss). The held-out tables below are of the calibrated model.\n",
        c.fit.frames
    );
    // Each button, then the heads after the buttons.
    let outputs: Vec<&str> = eval::BUTTON_NAMES
        .iter()
        .chain(&eval::HEADS[1..])
        .copied()
        .collect();
    let _ = writeln!(s, "| output | {} |", outputs.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(outputs.len()));
    let row = |values: &mut dyn Iterator<Item = f32>| {
        values
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    // A button's bias; a head's tilt, its bias on a non-neutral class (a
    // stick's class 0, the shoulder's class 1).
    let shoulder = outputs.len() - 1;
    let bias = (0..outputs.len()).map(|o| {
        let (from, _) = fourstock_train::calibrate::output_span(o);
        c.fit.bias[from + usize::from(o == shoulder)]
    });
    let _ = writeln!(
        s,
        "| temperature | {} |",
        row(&mut c.fit.temperature.iter().copied())
    );
    let _ = writeln!(s, "| bias (tilt) | {} |", row(&mut bias.into_iter()));
    let _ = writeln!(
        s,
        "| persistence | {} |\n",
        row(&mut c.fit.persistence.iter().copied())
    );
    let _ = writeln!(
        s,
        "| validation players | summed loss | mean accuracy | mean F1 |\n|---|---:|---:|---:|"
    );
    for (when, e) in [("before", &c.before), ("after", &c.after)] {
        let _ = writeln!(
            s,
            "| {when} | {:.4} | {:.4} | {:.4} |",
            e.total_loss, e.mean_accuracy, e.mean_f1
        );
    }
    let _ = writeln!(s);
}

/// Layer widths as "128x128".
pub fn shape(hidden: &[usize]) -> String {
    hidden
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// Writes `dir/MODEL_CARD.md`.
pub fn write(dir: &Path, input: &CardInput<'_>, report: &JobReport) -> std::io::Result<()> {
    std::fs::write(dir.join("MODEL_CARD.md"), render(input, report))
}
