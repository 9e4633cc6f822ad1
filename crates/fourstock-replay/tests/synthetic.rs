//! Replays built byte by byte here, so these tests run anywhere: the field
//! mapping, rollback, Nana, stock losses, and every way a file can be bad.

use std::path::{Path, PathBuf};

use fourstock_proto::{Buttons, ClientMessage};
use fourstock_replay::{read_replay, Reason, MAX_REPLAY_BYTES};

/// A folder of its own for each test, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("fourstock-replay-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- A Slippi 3.8.0 writer, just enough for these tests. ----

const GAME_START: u8 = 0x36;
const PRE: u8 = 0x37;
const POST: u8 = 0x38;
const GAME_END: u8 = 0x39;
const FRAME_START: u8 = 0x3A;
const FRAME_END: u8 = 0x3C;
/// Payload sizes for version 3.8.0.
const SIZES: [(u8, u16); 6] = [
    (GAME_START, 420),
    (PRE, 63),
    (POST, 76),
    (GAME_END, 2),
    (FRAME_START, 8),
    (FRAME_END, 8),
];

/// One character's state on one frame.
#[derive(Clone, Copy)]
struct Char {
    internal: u8,
    stocks: u8,
    x: f32,
    buttons: u16,
    stick: (f32, f32),
    triggers: (f32, f32),
    hitstun: Option<f32>,
    airborne: bool,
}

impl Char {
    fn new(internal: u8) -> Char {
        Char {
            internal,
            stocks: 4,
            x: 0.0,
            buttons: 0,
            stick: (0.0, 0.0),
            triggers: (0.0, 0.0),
            hitstun: None,
            airborne: false,
        }
    }
}

/// One recorded frame: (port index, follower, state) for each character.
struct RecordedFrame {
    id: i32,
    chars: Vec<(u8, bool, Char)>,
}

struct Writer {
    raw: Vec<u8>,
}

impl Writer {
    fn new(stage: u16, players: &[(u8, u8)]) -> Writer {
        let mut raw = vec![0x35, 1 + 3 * SIZES.len() as u8];
        for (code, size) in SIZES {
            raw.push(code);
            raw.extend_from_slice(&size.to_be_bytes());
        }
        let mut start = vec![3, 8, 0, 0];
        start.extend_from_slice(&[50, 1, 142, 76]); // bitfield
        start.extend_from_slice(&[0; 2]);
        start.push(0); // raining bombs
        start.push(0);
        start.push(0); // teams
        start.extend_from_slice(&[0; 2]);
        start.push(0xFF); // item frequency: none
        start.push(0); // self-destruct score
        start.push(0);
        start.extend_from_slice(&stage.to_be_bytes());
        start.extend_from_slice(&480u32.to_be_bytes());
        start.extend_from_slice(&[0; 15]);
        start.extend_from_slice(&[0xFF; 5]);
        start.extend_from_slice(&[0; 8]);
        start.extend_from_slice(&1f32.to_be_bytes());
        start.extend_from_slice(&[0; 44]);
        assert_eq!(start.len(), 100);
        for slot in 0..6u8 {
            let mut player = [0u8; 36];
            match players.iter().find(|(port, _)| *port == slot) {
                Some(&(_, external)) => {
                    player[0] = external;
                    player[1] = 0; // human
                    player[2] = 4; // stocks
                }
                None => player[1] = 3, // empty
            }
            start.extend_from_slice(&player);
        }
        start.extend_from_slice(&[0; 4]); // random seed
        start.extend_from_slice(&[0; 32]); // UCF
        start.extend_from_slice(&[0; 64]); // name tags
        start.extend_from_slice(&[0, 0]); // PAL, frozen Stadium
        start.extend_from_slice(&[2, 2]); // scene
        assert_eq!(start.len(), 420);
        raw.push(GAME_START);
        raw.extend_from_slice(&start);
        Writer { raw }
    }

    fn frame(&mut self, frame: &RecordedFrame) {
        let id = frame.id.to_be_bytes();
        self.event(FRAME_START, |b| {
            b.extend_from_slice(&id);
            b.extend_from_slice(&[0; 4]);
        });
        for &(port, follower, c) in &frame.chars {
            self.pre(frame.id, port, follower, &c);
        }
        for &(port, follower, c) in &frame.chars {
            self.post(frame.id, port, follower, &c);
        }
        self.event(FRAME_END, |b| {
            b.extend_from_slice(&id);
            b.extend_from_slice(&id);
        });
    }

    fn pre(&mut self, id: i32, port: u8, follower: bool, c: &Char) {
        self.event(PRE, |b| {
            b.extend_from_slice(&id.to_be_bytes());
            b.push(port);
            b.push(follower as u8);
            b.extend_from_slice(&[0; 4]); // seed
            b.extend_from_slice(&14u16.to_be_bytes()); // state
            for f in [c.x, 0.0, 1.0, c.stick.0, c.stick.1, 0.0, 0.0, 0.0] {
                b.extend_from_slice(&f.to_be_bytes());
            }
            b.extend_from_slice(&0u32.to_be_bytes()); // processed buttons
            b.extend_from_slice(&c.buttons.to_be_bytes());
            b.extend_from_slice(&c.triggers.0.to_be_bytes());
            b.extend_from_slice(&c.triggers.1.to_be_bytes());
            b.push(0); // raw x
            b.extend_from_slice(&0f32.to_be_bytes()); // percent
        });
    }

    fn post(&mut self, id: i32, port: u8, follower: bool, c: &Char) {
        self.event(POST, |b| {
            b.extend_from_slice(&id.to_be_bytes());
            b.push(port);
            b.push(follower as u8);
            b.push(c.internal);
            b.extend_from_slice(&14u16.to_be_bytes()); // state
            for f in [c.x, 5.0, -1.0, 12.5, 60.0] {
                b.extend_from_slice(&f.to_be_bytes()); // x y direction percent shield
            }
            b.extend_from_slice(&[0, 0, 0, c.stocks]);
            b.extend_from_slice(&7f32.to_be_bytes()); // state age
            let flags4 = if c.hitstun.is_some() { 0x02 } else { 0 };
            b.extend_from_slice(&[0, 0, 0, flags4, 0]);
            b.extend_from_slice(&c.hitstun.unwrap_or(3.0).to_be_bytes()); // misc
            b.push(c.airborne as u8);
            b.extend_from_slice(&0u16.to_be_bytes()); // ground
            b.push(1); // jumps
            b.push(0); // l-cancel
            b.push(1); // hurtbox: invulnerable
            for f in [1.5, 2.5, 3.5, 4.5, 5.5, 2.0] {
                b.extend_from_slice(&f32::to_be_bytes(f)); // speeds, then hitlag
            }
        });
    }

    fn end(&mut self, method: u8) {
        self.event(GAME_END, |b| b.extend_from_slice(&[method, 0xFF]));
    }

    fn event(&mut self, code: u8, body: impl FnOnce(&mut Vec<u8>)) {
        let mut b = Vec::new();
        body(&mut b);
        let size = SIZES.iter().find(|(c, _)| *c == code).unwrap().1;
        assert_eq!(b.len(), size as usize, "event {code:#x}");
        self.raw.push(code);
        self.raw.extend_from_slice(&b);
    }

    fn finish(self) -> Vec<u8> {
        let mut file = b"{U\x03raw[$U#l".to_vec();
        file.extend_from_slice(&(self.raw.len() as u32).to_be_bytes());
        file.extend_from_slice(&self.raw);
        file.extend_from_slice(b"U\x08metadata{U\x09lastFramel\0\0\0\x02}");
        file.push(b'}');
        file
    }
}

const FOX: u8 = 1; // internal
const POPO: u8 = 10;
const NANA: u8 = 11;

/// Fox on port 1 against Ice Climbers on port 2: four frames, two of them
/// re-sent after a rollback, both players losing a stock on the last.
fn sample() -> Vec<u8> {
    let mut w = Writer::new(32, &[(0, 2), (1, 14)]);
    let fox = Char {
        buttons: 0x0100 | 0x0008, // A, D-pad up
        stick: (1.0, -1.0),
        triggers: (0.5, 2.0),
        hitstun: Some(12.0),
        ..Char::new(FOX)
    };
    let popo = Char {
        airborne: true,
        ..Char::new(POPO)
    };
    let nana = Char::new(NANA);
    let frames = [
        (-123, 0.0, 4, true),
        (-122, 1.0, 4, true),
        (-121, 2.0, 4, true),
        (-122, 11.0, 4, true), // rollback: re-sent with the final state
        (-121, 12.0, 4, true),
        (-120, 13.0, 3, false), // stocks drop; Nana is gone
    ];
    for (id, x, stocks, with_nana) in frames {
        let mut chars = vec![
            (0, false, Char { x, stocks, ..fox }),
            (1, false, Char { x, stocks, ..popo }),
        ];
        if with_nana {
            chars.push((1, true, Char { x, ..nana }));
        }
        w.frame(&RecordedFrame { id, chars });
    }
    w.end(2);
    w.finish()
}

#[test]
fn a_built_replay_becomes_a_client_session() {
    let scratch = Scratch::new("session");
    let path = scratch.write("sample.slp", &sample());
    let replay = read_replay(&path).unwrap();

    let ClientMessage::MatchStart(start) = &replay.messages[0] else {
        panic!("first message is not MatchStart: {:?}", replay.messages[0]);
    };
    assert_eq!(start.stage, 32);
    assert_eq!(
        start
            .players
            .iter()
            .map(|p| (p.port, p.character))
            .collect::<Vec<_>>(),
        [(1, 2), (2, 14)]
    );
    let Some(ClientMessage::MatchEnd(end)) = replay.messages.last() else {
        panic!("last message is not MatchEnd");
    };
    assert_eq!((end.frame, end.method), (-120, 2));

    let frames: Vec<_> = replay.frames().collect();
    assert_eq!(
        frames.iter().map(|f| f.frame).collect::<Vec<_>>(),
        [-123, -122, -121, -120]
    );
    // The re-sent copies win.
    assert_eq!(frames[1].player(1).unwrap().x, 11.0);
    assert_eq!(frames[2].player(2).unwrap().x, 12.0);

    let fox = frames[0].player(1).unwrap();
    assert_eq!(fox.character, 2);
    assert!(!fox.follower);
    assert_eq!(fox.controller.buttons, Buttons(Buttons::A | Buttons::D_UP));
    assert_eq!((fox.controller.main_x, fox.controller.main_y), (1.0, 0.0));
    assert_eq!((fox.controller.c_x, fox.controller.c_y), (0.5, 0.5));
    assert_eq!(
        (fox.controller.l_trigger, fox.controller.r_trigger),
        (0.5, 1.0)
    );
    assert_eq!(fox.hitstun_left, 12.0);
    assert_eq!(fox.hitlag_left, 2.0);
    assert_eq!(fox.action_frame, 7.0);
    assert_eq!((fox.y, fox.percent, fox.shield), (5.0, 12.5, 60.0));
    assert!(!fox.facing_right);
    assert!(fox.on_ground);
    assert!(fox.invulnerable);
    assert_eq!(fox.jumps_left, 1);
    assert_eq!(
        [
            fox.speed_air_x_self,
            fox.speed_y_self,
            fox.speed_x_attack,
            fox.speed_y_attack,
            fox.speed_ground_x_self
        ],
        [1.5, 2.5, 3.5, 4.5, 5.5]
    );

    let popo = frames[0].player(2).unwrap();
    assert_eq!(popo.character, 14);
    assert!(!popo.on_ground);
    assert_eq!(
        popo.hitstun_left, 0.0,
        "misc_as is not hitstun without the flag"
    );

    let nana: Vec<_> = frames[0].players.iter().filter(|p| p.follower).collect();
    assert_eq!(nana.len(), 1);
    assert_eq!((nana[0].port, nana[0].character), (2, 14));
    assert!(
        frames[3].players.iter().all(|p| !p.follower),
        "dead Nana is omitted"
    );

    for message in &replay.messages {
        fourstock_proto::validate::client_message(message).unwrap();
    }
}

#[test]
fn the_summary_counts_rollbacks_and_stock_losses() {
    let scratch = Scratch::new("summary");
    let path = scratch.write("sample.slp", &sample());
    let s = read_replay(&path).unwrap().summary;
    assert_eq!(s.slippi_version, "3.8.0");
    assert_eq!(
        (s.stage.id, s.stage.name, s.stage.legal),
        (32, "Final Destination", true)
    );
    assert_eq!(s.frames, 4);
    assert_eq!((s.first_frame, s.last_frame), (Some(-123), Some(-120)));
    assert_eq!(s.rollback_frames_dropped, 2);
    assert_eq!(s.stock_losses.len(), 2);
    assert!(s
        .stock_losses
        .iter()
        .all(|l| l.frame == -120 && l.stocks_left == 3));
    // Both players lost a stock on the same frame: one reset, plus the start.
    assert_eq!(s.expected_resets(), 2);
    assert_eq!(
        s.end.as_ref().map(|e| (e.method, e.name)),
        Some((2, "game"))
    );
    assert!(!s.items);
    assert!(s.ruleset.competitive, "{:?}", s.ruleset.reasons);
    assert_eq!(s.players[1].character_name, "Ice Climbers");
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"kind\":\"human\""), "{json}");
}

#[test]
fn a_replay_without_game_end_has_no_match_end() {
    let scratch = Scratch::new("no-end");
    let mut w = Writer::new(31, &[(0, 2), (3, 20)]);
    for id in -123..-100 {
        w.frame(&RecordedFrame {
            id,
            chars: vec![(0, false, Char::new(FOX)), (3, false, Char::new(22))],
        });
    }
    let path = scratch.write("unfinished.slp", &w.finish());
    let replay = read_replay(&path).unwrap();
    assert!(matches!(
        replay.messages.last(),
        Some(ClientMessage::Frame(_))
    ));
    assert!(replay.summary.end.is_none());
    assert_eq!(replay.summary.frames, 23);
    assert_eq!(replay.summary.players[1].port, 4);
}

fn expect_error(path: &Path) -> fourstock_replay::ReplayError {
    let error = read_replay(path).expect_err("a bad file must be an error");
    let message = error.to_string();
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(message.contains(&*name), "{message:?} does not name {name}");
    assert_eq!(error.path(), path);
    error
}

#[test]
fn garbage_empty_and_missing_files_are_errors() {
    let scratch = Scratch::new("garbage");
    let garbage = scratch.write("garbage.slp", b"This is not a replay, just some text.\n");
    assert!(matches!(
        expect_error(&garbage).reason(),
        Reason::Corrupt(_)
    ));
    let empty = scratch.write("empty.slp", b"");
    assert!(matches!(expect_error(&empty).reason(), Reason::Corrupt(_)));
    let missing = scratch.0.join("missing.slp");
    assert!(matches!(expect_error(&missing).reason(), Reason::Io(_)));
}

#[test]
fn every_truncation_of_a_replay_is_an_error() {
    let scratch = Scratch::new("truncated");
    let bytes = sample();
    for len in (0..bytes.len()).step_by(7) {
        let path = scratch.write(&format!("cut-{len}.slp"), &bytes[..len]);
        // Truncated mid-stream, peppi runs out of bytes: an error, never a panic.
        assert!(read_replay(&path).is_err(), "{len} bytes parsed");
    }
}

#[test]
fn a_file_that_makes_peppi_panic_is_contained() {
    let scratch = Scratch::new("panic");
    let mut w = Writer::new(32, &[(0, 2), (1, 2)]);
    // A pre-frame event for port index 7: peppi indexes a 4-entry table with it.
    w.frame(&RecordedFrame {
        id: -123,
        chars: vec![(7, false, Char::new(FOX))],
    });
    let path = scratch.write("bad-port.slp", &w.finish());
    assert!(matches!(expect_error(&path).reason(), Reason::Panicked(_)));
}

#[test]
fn frames_on_yoshis_story_carry_randall_and_elsewhere_nothing() {
    let scratch = Scratch::new("randall");
    let mut w = Writer::new(8, &[(0, 2), (1, 2)]);
    for id in [-123, -122, 500, 499, 1076] {
        w.frame(&RecordedFrame {
            id,
            chars: vec![(0, false, Char::new(FOX)), (1, false, Char::new(FOX))],
        });
    }
    let path = scratch.write("yoshis.slp", &w.finish());
    let replay = read_replay(&path).unwrap();
    let frames: Vec<_> = replay.frames().collect();
    assert_eq!(frames.len(), 5);
    for f in &frames {
        assert_eq!(f.stage_state.randall, fourstock_replay::randall(f.frame));
        assert_eq!(f.stage_state.fod_platforms, [0.0; 2]);
    }
    // The countdown's first frame is on the lap's bottom section.
    assert_eq!(frames[0].stage_state.randall, [-95.545166, -33.2489]);
    // The sample game is on Final Destination: no moving parts.
    let path = scratch.write("sample.slp", &sample());
    for f in read_replay(&path).unwrap().frames() {
        assert_eq!(f.stage_state, fourstock_proto::StageState::NONE);
    }
}

#[test]
fn a_stage_past_the_protocol_is_unsupported() {
    let scratch = Scratch::new("stage");
    let mut w = Writer::new(70, &[(0, 2), (1, 2)]);
    w.frame(&RecordedFrame {
        id: -123,
        chars: vec![(0, false, Char::new(FOX)), (1, false, Char::new(FOX))],
    });
    let path = scratch.write("stage70.slp", &w.finish());
    assert!(matches!(
        expect_error(&path).reason(),
        Reason::Unsupported(_)
    ));
}

#[test]
fn an_oversized_file_is_refused_before_reading() {
    let scratch = Scratch::new("huge");
    let path = scratch.0.join("huge.slp");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(MAX_REPLAY_BYTES + 1).unwrap(); // sparse: no disk used
    drop(file);
    assert!(matches!(
        expect_error(&path).reason(),
        Reason::TooLarge { .. }
    ));
}

#[test]
fn deeply_nested_metadata_is_refused() {
    let scratch = Scratch::new("nested");
    let mut bytes = sample();
    bytes.truncate(bytes.len() - 1); // the closing brace of the file
    bytes.truncate(bytes.len() - 1); // the closing brace of the metadata
    for _ in 0..10_000 {
        bytes.extend_from_slice(b"U\x01a{");
    }
    let path = scratch.write("nested.slp", &bytes);
    assert!(matches!(expect_error(&path).reason(), Reason::Corrupt(_)));
}
