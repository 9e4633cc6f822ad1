//! The real replays in the shared folder (`FOURSTOCK_REPLAYS`, by default
//! `../shared/replays` beside the workspace), checked against INVENTORY.md.
//! Skipped, with a line saying so, when the folder is absent.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use fourstock_proto::{validate, Buttons, ClientMessage, StageState};
use fourstock_replay::{randall, read_replay, replay_files, ReplaySummary, RANDALL_CYCLE};

/// What the tests need from one file, gathered in a single pass.
struct Facts {
    summary: ReplaySummary,
    /// The first message that fails validation, if any.
    invalid: Option<String>,
    /// MatchStart first, frames strictly increasing, MatchEnd last iff ended.
    shape: Result<(), String>,
    follower_frames: usize,
    follower_ports: Vec<u8>,
    /// Per leader port: every button pressed at some point, and the
    /// extremes of the main stick and c-stick.
    inputs: BTreeMap<u8, Inputs>,
}

#[derive(Default)]
struct Inputs {
    buttons: u16,
    main: Extremes,
    c: Extremes,
}

/// Lowest and highest x and y seen.
#[derive(Clone, Copy)]
struct Extremes([f32; 4]);

impl Default for Extremes {
    fn default() -> Self {
        Extremes([0.5; 4])
    }
}

impl Extremes {
    fn see(&mut self, x: f32, y: f32) {
        let e = &mut self.0;
        (e[0], e[1], e[2], e[3]) = (e[0].min(x), e[1].max(x), e[2].min(y), e[3].max(y));
    }

    /// Reached all four edges of the gate.
    fn full_sweep(&self) -> bool {
        let [x_lo, x_hi, y_lo, y_hi] = self.0;
        x_lo < 0.2 && x_hi > 0.8 && y_lo < 0.2 && y_hi > 0.8
    }
}

type Survey = BTreeMap<String, Result<Facts, String>>;

fn folder() -> PathBuf {
    std::env::var_os("FOURSTOCK_REPLAYS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/replays"
            ))
        })
}

/// Every replay read once, in parallel; `None` when the folder is absent.
fn survey() -> Option<&'static Survey> {
    static SURVEY: OnceLock<Option<Survey>> = OnceLock::new();
    SURVEY
        .get_or_init(|| {
            let dir = folder();
            if !dir.is_dir() {
                return None;
            }
            let files = replay_files(&dir).expect("listing the replays folder");
            let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
            let chunk = files.len().div_ceil(threads).max(1);
            let survey = std::thread::scope(|scope| {
                let workers: Vec<_> = files
                    .chunks(chunk)
                    .map(|chunk| {
                        scope.spawn(move || {
                            chunk
                                .iter()
                                .map(|path| {
                                    let name = path.file_name().unwrap().to_string_lossy();
                                    (name.into_owned(), facts(path))
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().expect("a reader thread panicked"))
                    .collect()
            });
            Some(survey)
        })
        .as_ref()
}

fn facts(path: &std::path::Path) -> Result<Facts, String> {
    let replay = read_replay(path).map_err(|e| e.to_string())?;
    let invalid = replay
        .messages
        .iter()
        .find_map(|m| validate::client_message(m).err().map(|e| e.to_string()));
    let shape = shape(&replay.messages, replay.summary.end.is_some());
    let mut follower_frames = 0;
    let mut follower_ports = Vec::new();
    let mut inputs: BTreeMap<u8, Inputs> = BTreeMap::new();
    for frame in replay.frames() {
        if frame.players.iter().any(|p| p.follower) {
            follower_frames += 1;
        }
        for p in &frame.players {
            if p.follower {
                if !follower_ports.contains(&p.port) {
                    follower_ports.push(p.port);
                }
                continue;
            }
            let seen = inputs.entry(p.port).or_default();
            seen.buttons |= p.controller.buttons.0;
            seen.main.see(p.controller.main_x, p.controller.main_y);
            seen.c.see(p.controller.c_x, p.controller.c_y);
        }
    }
    Ok(Facts {
        summary: replay.summary,
        invalid,
        shape,
        follower_frames,
        follower_ports,
        inputs,
    })
}

fn shape(messages: &[ClientMessage], ended: bool) -> Result<(), String> {
    if !matches!(messages.first(), Some(ClientMessage::MatchStart(_))) {
        return Err("does not open with MatchStart".into());
    }
    let mut last = None;
    for (i, m) in messages.iter().enumerate().skip(1) {
        match m {
            ClientMessage::Frame(f) => {
                if last.is_some_and(|l| f.frame <= l) {
                    return Err(format!("frame {} follows frame {}", f.frame, last.unwrap()));
                }
                last = Some(f.frame);
            }
            ClientMessage::MatchEnd(_) if ended && i == messages.len() - 1 => {}
            other => return Err(format!("unexpected message {i}: {other:?}")),
        }
    }
    if ended != matches!(messages.last(), Some(ClientMessage::MatchEnd(_))) {
        return Err("MatchEnd does not match the game-end event".into());
    }
    Ok(())
}

macro_rules! survey_or_skip {
    () => {
        match survey() {
            Some(survey) => survey,
            None => {
                println!(
                    "SKIP: replays folder {} not found (set FOURSTOCK_REPLAYS)",
                    folder().display()
                );
                return;
            }
        }
    };
}

fn parsed<'a>(survey: &'a Survey, name: &str) -> &'a Facts {
    match survey.get(name) {
        Some(Ok(facts)) => facts,
        Some(Err(e)) => panic!("{name} failed: {e}"),
        None => panic!("{name} is not in the replays folder"),
    }
}

#[test]
fn every_file_parses_or_is_an_error_naming_it() {
    let survey = survey_or_skip!();
    let (mut ok, mut failed) = (0, 0);
    for (name, outcome) in survey {
        match outcome {
            Ok(facts) => {
                ok += 1;
                println!("ok    {name}: {} frames", facts.summary.frames);
            }
            Err(e) => {
                failed += 1;
                println!("error {e}");
                assert!(e.contains(name.as_str()), "{e:?} does not name {name}");
            }
        }
    }
    println!("{ok} parsed, {failed} errors");
    assert!(ok > failed, "most replays in the folder are good");
}

#[test]
fn the_broken_files_are_errors() {
    let survey = survey_or_skip!();
    let broken = [
        "libmelee_corrupt_game_1.slp", // plain text
        "libmelee_corrupt_game_2.slp", // a PNG
        "libmelee_corrupt_game_3.slp", // a bad event stream
        "peppi_corrupt.slp",
        "dawsonbooth_slippi-search_slp_incomplete.slp",
        "hohav_py-slippi_test_replays_severed_metadata.slp",
    ];
    for name in broken {
        match survey.get(name) {
            Some(Err(e)) => assert!(e.contains(name), "{e:?} does not name {name}"),
            Some(Ok(_)) => panic!("{name} parsed, but it is broken"),
            None => panic!("{name} is not in the replays folder"),
        }
    }
    // Unusual but well-formed: these read like any other game.
    assert_eq!(
        parsed(survey, "peppi_duplicate_game_end.slp")
            .summary
            .frames,
        5023
    );
    assert_eq!(
        parsed(survey, "peppi_crazy_name_tags.slp")
            .summary
            .players
            .len(),
        4
    );
    assert_eq!(
        parsed(survey, "peppi_unknown_event.slp").summary.frames,
        5209
    );
}

/// One row of INVENTORY.md's table.
struct Known {
    file: &'static str,
    version: &'static str,
    stage: u16,
    /// (port, character id) by port.
    players: &'static [(u8, u8)],
    frames: usize,
    end: Option<u8>,
}

const KNOWN: [Known; 9] = [
    Known {
        file: "Walnut356_SlpProcess_Game_20230527T201813.slp",
        version: "3.14.0",
        stage: 3,
        players: &[(1, 2), (2, 20)],
        frames: 8956,
        end: Some(2),
    },
    Known {
        file: "Walnut356_SlpProcess_Game_20230726T180213.slp",
        version: "3.15.0",
        stage: 31,
        players: &[(1, 22), (2, 13)],
        frames: 2867,
        end: None,
    },
    Known {
        file: "hohav_py-slippi_test_replays_v3.14.0.slp",
        version: "3.14.0",
        stage: 28,
        players: &[(1, 20), (2, 19)],
        frames: 12194,
        end: Some(2),
    },
    Known {
        file: "frankborden_slippilab_packages_parser_test.slp",
        version: "2.0.1",
        stage: 31,
        players: &[(1, 16), (4, 20)],
        frames: 11078,
        end: Some(2),
    },
    Known {
        file: "peppi_v0.1.slp",
        version: "0.1.0",
        stage: 28,
        players: &[(1, 2), (2, 25)],
        frames: 8236,
        end: Some(3),
    },
    Known {
        file: "peppi_old_ver_thegang.slp",
        version: "1.7.1",
        stage: 28,
        players: &[(2, 15), (4, 9)],
        frames: 19242,
        end: Some(3),
    },
    Known {
        file: "peppi_v3.18.slp",
        version: "3.18.0",
        stage: 2,
        players: &[(1, 9), (2, 0)],
        frames: 941,
        end: Some(7),
    },
    Known {
        file: "vinceau_slp-realtime_slp_200306_2258_Falco_v_Fox_PS.slp",
        version: "3.3.0",
        stage: 3,
        players: &[(2, 20), (4, 2)],
        frames: 9079,
        end: Some(2),
    },
    Known {
        file: "libmelee_test_game_1.slp",
        version: "3.6.1",
        stage: 8,
        players: &[(1, 2), (2, 2)],
        frames: 1038,
        end: None,
    },
];

#[test]
fn games_match_the_inventory() {
    let survey = survey_or_skip!();
    for known in &KNOWN {
        let name = known.file;
        let s = &parsed(survey, name).summary;
        assert_eq!(s.slippi_version, known.version, "{name}");
        assert_eq!(s.stage.id, known.stage, "{name}");
        let players: Vec<_> = s.players.iter().map(|p| (p.port, p.character)).collect();
        assert_eq!(players, known.players, "{name}");
        assert_eq!(s.frames, known.frames, "{name}");
        assert_eq!(s.end.as_ref().map(|e| e.method), known.end, "{name}");
        let seconds = known.frames as f64 / 60.0;
        assert!((s.duration_seconds - seconds).abs() < 1e-9, "{name}");
    }
}

#[test]
fn full_games_are_plausible() {
    let survey = survey_or_skip!();
    let mut games = 0;
    for (name, facts) in survey
        .iter()
        .filter_map(|(n, o)| Some((n, o.as_ref().ok()?)))
    {
        let s = &facts.summary;
        // A 1v1 that ended by stocks, under the 4-stock ruleset.
        if s.end.as_ref().is_none_or(|e| e.method != 2) || !s.ruleset.competitive {
            continue;
        }
        games += 1;
        assert_eq!(s.players.len(), 2, "{name}");
        assert!(
            (1_000..=8 * 60 * 60 + 200).contains(&s.frames),
            "{name}: {}",
            s.frames
        );
        // Someone lost all four stocks.
        assert!(s.stock_losses.iter().any(|l| l.stocks_left == 0), "{name}");
        assert!(s.stock_losses.len() <= 7, "{name}: {:?}", s.stock_losses);
        let mut frames: Vec<_> = s.stock_losses.iter().map(|l| l.frame).collect();
        frames.dedup();
        assert_eq!(s.expected_resets(), 1 + frames.len(), "{name}");
    }
    assert!(games >= 30, "only {games} full competitive games");
}

#[test]
fn every_message_validates_and_frames_increase() {
    let survey = survey_or_skip!();
    for (name, facts) in survey
        .iter()
        .filter_map(|(n, o)| Some((n, o.as_ref().ok()?)))
    {
        assert_eq!(facts.invalid, None, "{name}");
        assert_eq!(facts.shape, Ok(()), "{name}");
    }
}

#[test]
fn netplay_replays_drop_rollback_frames() {
    let survey = survey_or_skip!();
    // From INVENTORY.md's "re-sent frames" column.
    let rows = [
        ("Walnut356_SlpProcess_Game_20230709T184409.slp", 1633),
        ("Walnut356_py-slippi_Modern_Replays_NUT_356_Falco_vs_LARY_559_Falco_on_FoD_-_12-22-22_12.47am.slp", 3825),
        ("Walnut356_SlpProcess_test_replays_netplay_sample.slp", 13),
        ("peppi_duplicate_game_end.slp", 1494),
        ("peppi_v3.16.slp", 7),
        ("peppi_v2.0.slp", 0),
    ];
    for (name, dropped) in rows {
        assert_eq!(
            parsed(survey, name).summary.rollback_frames_dropped,
            dropped,
            "{name}"
        );
    }
}

#[test]
fn ice_climbers_have_nana_as_a_follower() {
    let survey = survey_or_skip!();
    // file, Ice Climbers' port, at least this many frames with Nana
    let rows = [
        ("peppi_ics.slp", 1, 344),
        ("peppi_ics2.slp", 1, 5_000),
        (
            "dawsonbooth_slippi-search_slp_sheik_vs_ics_yoshis.slp",
            2,
            3_000,
        ),
    ];
    for (name, port, at_least) in rows {
        let facts = parsed(survey, name);
        assert_eq!(facts.follower_ports, [port], "{name}");
        assert!(
            facts.follower_frames >= at_least,
            "{name}: {}",
            facts.follower_frames
        );
        // Nana dies before Popo in a long game: she is omitted then.
        if facts.summary.frames > 1_000 {
            assert!(facts.follower_frames < facts.summary.frames, "{name}");
        }
    }
    let solo = parsed(survey, "peppi_v2.0.slp");
    assert_eq!(solo.follower_frames, 0);
}

#[test]
fn button_sweeps_press_the_expected_buttons() {
    let survey = survey_or_skip!();
    let rows = [
        (
            "peppi_buttons_abxy.slp",
            Buttons::A | Buttons::B | Buttons::X | Buttons::Y,
        ),
        (
            "peppi_buttons_lrzs.slp",
            Buttons::L | Buttons::R | Buttons::Z | Buttons::START,
        ),
        (
            "peppi_dpad_udlr.slp",
            Buttons::D_UP | Buttons::D_DOWN | Buttons::D_LEFT | Buttons::D_RIGHT,
        ),
        ("Walnut356_SlpProcess_test_replays_inputs.slp", Buttons::ALL),
    ];
    for (name, expected) in rows {
        let port1 = &parsed(survey, name).inputs[&1];
        assert_eq!(
            port1.buttons & expected,
            expected,
            "{name}: {:#x}",
            port1.buttons
        );
    }
    let joystick = &parsed(survey, "peppi_joystick_udlr.slp").inputs[&1];
    assert!(joystick.main.full_sweep(), "{:?}", joystick.main.0);
    let cstick = &parsed(survey, "peppi_cstick_udlr.slp").inputs[&1];
    assert!(cstick.c.full_sweep(), "{:?}", cstick.c.0);
    // The sweeps press nothing else with the stick.
    assert_eq!(
        parsed(survey, "peppi_cstick_udlr.slp").inputs[&1].buttons,
        0
    );
}

#[test]
fn rollback_dedup_agrees_with_peppi() {
    let survey = survey_or_skip!();
    use peppi::frame::Rollbacks;
    for name in [
        "Walnut356_SlpProcess_Game_20230709T184409.slp",
        "peppi_duplicate_game_end.slp",
        "libmelee_test_game_1.slp",
    ] {
        let file = std::fs::File::open(folder().join(name)).unwrap();
        let game = peppi::io::slippi::read(std::io::BufReader::new(file), None).unwrap();
        // peppi marks every copy of a frame but the last as a rollback.
        let marked = game.frames.rollbacks(Rollbacks::ExceptLast);
        let dropped = marked.iter().filter(|&&rollback| rollback).count();
        assert_eq!(
            parsed(survey, name).summary.rollback_frames_dropped,
            dropped,
            "{name}"
        );
    }
}

#[test]
fn stage_state_follows_randall_and_the_fod_platforms() {
    let dir = folder();
    if !dir.is_dir() {
        println!(
            "SKIP: replays folder {} not found (set FOURSTOCK_REPLAYS)",
            dir.display()
        );
        return;
    }
    let read = |name: &str| read_replay(dir.join(name)).unwrap_or_else(|e| panic!("{e}"));

    // Yoshi's Story: Randall where libmelee puts it, on every frame; the
    // countdown included. No platforms.
    let yoshis = read("Walnut356_py-slippi_Modern_Replays_JAKE_115_Falco_vs_NUT_356_Marth_on_YS_-_12-22-22_08.23pm.slp");
    let mut frames = 0;
    for f in yoshis.frames() {
        assert_eq!(f.stage, 8);
        assert_eq!(f.stage_state.randall, randall(f.frame), "frame {}", f.frame);
        assert_eq!(f.stage_state.fod_platforms, [0.0; 2]);
        frames += 1;
    }
    assert!(
        frames > RANDALL_CYCLE as usize,
        "a whole lap: {frames} frames"
    );

    // Fountain of Dreams, Slippi 3.18: the platforms start at 20 and 28
    // and move with the recorded events. No Randall.
    let fod = read("peppi_v3.18.slp");
    let heights: Vec<[f32; 2]> = fod
        .frames()
        .map(|f| {
            assert_eq!(f.stage, 2);
            assert_eq!(f.stage_state.randall, [0.0; 2]);
            f.stage_state.fod_platforms
        })
        .collect();
    assert_eq!(heights[0], [20.0, 28.0]);
    for side in 0..2 {
        assert!(
            heights.iter().any(|h| h[side] != heights[0][side]),
            "platform {side} moves"
        );
    }

    // Fountain of Dreams before 3.18 records no heights: zeros, as in
    // slippi-ai's games. Final Destination has no moving parts.
    for name in [
        "Walnut356_py-slippi_Modern_Replays_CRIM_755_Marth_vs_NUT_356_Falco_on_FoD_-_12-12-22_07.31pm.slp",
        "peppi_ics.slp",
    ] {
        for f in read(name).frames() {
            assert_eq!(f.stage_state, StageState::NONE, "{name} frame {}", f.frame);
        }
    }
}
