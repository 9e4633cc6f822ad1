//! `fourstock umi` against a scripted arena: a whole session, determinism
//! under new game handles, resets at stock losses, lanes in flight at once,
//! and every kind of bad input, each answered by an `error` naming the
//! problem and exit code 1.

mod arena;

use arena::{models_folder, pack, Arena, Tagged, Welcome};
use fourstock_tests::fixtures::{frame, frames};
use fourstock_umi::frame::{CTRL_WIDTH, FRAME_SIZE};

fn default_bot() -> Arena {
    let models = Arena::models();
    Arena::start(&["--models", models.to_str().unwrap()], &[])
}

/// The arena runs a bot image with no command and `UMI_SOCKET` set: a bare
/// `fourstock` is then the bot, configured by its environment.
#[test]
fn a_bare_fourstock_plays_umi_when_umi_socket_is_set() {
    let models = Arena::models();
    let mut arena = Arena::start_bare(&[
        ("FOURSTOCK_MODELS", models.to_str().unwrap()),
        ("UMI_CORES", "3"),
    ]);
    let hello = arena.handshake(&Welcome::new(6, 8, 2));
    assert_eq!(hello.umi.as_deref(), Some("1.0"));
    arena.send(&Tagged { t: "shutdown" });
    assert_eq!(arena.wait().code(), Some(0), "a clean exit on shutdown");
    let log = arena.log.lock().unwrap().join("\n");
    assert!(log.contains("cores: 3, from UMI_CORES"), "{log}");
}

#[test]
fn a_session_plays_from_hello_to_shutdown() {
    let mut arena = default_bot();
    let hello = arena.handshake(&Welcome::new(6, 8, 2));
    assert_eq!(hello.umi.as_deref(), Some("1.0"));
    assert_eq!(
        hello.characters.as_deref(),
        Some("ALL"),
        "a generic model is served"
    );
    assert_eq!(hello.delay, Some(6), "the default model's trained delay");
    assert_eq!(hello.deterministic, Some(true));

    arena.new_games(&[(1, "FALCO"), (2, "FOX"), (3, "MARTH")]);
    let game = frames(-123, -93);
    let packed = pack(&game, 1);
    for (t, bytes) in packed.chunks_exact(FRAME_SIZE).enumerate() {
        let first = t == 0;
        // Two games on lane 0, one on lane 1, both lanes in flight at once.
        let two: Vec<u8> = bytes.iter().chain(bytes).copied().collect();
        let a = arena.post("obs", 0, &[1, 2], &[first, first], &two);
        let b = arena.post("obs", 1, &[3], &[first], bytes);
        let mut seqs = vec![];
        for _ in 0..2 {
            let act = arena.recv();
            assert_eq!(act.t, "act");
            let rows = act.rows();
            assert_eq!(rows.len(), if act.seq == Some(a) { 2 } else { 1 });
            for row in rows {
                assert!(row.iter().all(|v| (0.0..=1.0).contains(v)), "{row:?}");
            }
            seqs.push(act.seq.unwrap());
        }
        seqs.sort();
        assert_eq!(seqs, [a, b]);
    }
    arena.end_games(&[1, 2, 3]);
    // A game's handle can be used again once it has ended.
    arena.new_games(&[(1, "FOX")]);
    let act = arena.exchange("obs", 1, &[1], &[true], &packed[..FRAME_SIZE]);
    assert_eq!(act.rows().len(), 1);
    arena.send(&Tagged { t: "shutdown" });
    let status = arena.wait();
    assert_eq!(status.code(), Some(0), "a clean exit on shutdown");
}

/// Plays `game` as one new game under `handle` on `lane`; its rows.
fn play(arena: &mut Arena, handle: u32, lane: u32, packed: &[u8]) -> Vec<[f32; CTRL_WIDTH]> {
    arena.new_games(&[(handle, "FALCO")]);
    let rows = packed
        .chunks_exact(FRAME_SIZE)
        .enumerate()
        .map(|(t, bytes)| {
            arena
                .exchange("obs", lane, &[handle], &[t == 0], bytes)
                .rows()[0]
        })
        .collect();
    arena.end_games(&[handle]);
    rows
}

fn same_frames_same_actions(arena: &mut Arena) {
    arena.handshake(&Welcome::new(0, 4, 2));
    let packed = pack(&frames(-123, 60), 1);
    let first = play(arena, 7, 0, &packed);
    // Another handle, another lane, after other games have played.
    let again = play(arena, 1_234_567, 1, &packed);
    assert_eq!(first, again, "the same frames under a new handle");
    let distinct: std::collections::HashSet<Vec<u32>> = first
        .iter()
        .map(|r| r.iter().map(|v| v.to_bits()).collect())
        .collect();
    assert!(distinct.len() > 1, "the actions follow the frames");
    arena.send(&Tagged { t: "shutdown" });
    assert_eq!(arena.wait().code(), Some(0));
}

#[test]
fn the_same_frames_under_new_handles_give_the_same_actions() {
    same_frames_same_actions(&mut default_bot());
}

#[test]
fn a_sampling_model_is_deterministic_too() {
    // A copy of the default model that samples its actions.
    let folder =
        std::env::temp_dir().join(format!("fourstock-umi-sampling-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    models_folder(&folder, &["generic-lstm"], |config| {
        config["decoding"] = serde_json::json!({"mode": "sample", "temperature": 1.0});
    });
    let mut arena = Arena::start(&["--models", folder.to_str().unwrap()], &[]);
    same_frames_same_actions(&mut arena);
    drop(arena);
    let _ = std::fs::remove_dir_all(&folder);
}

#[test]
fn a_stock_loss_starts_the_state_over_as_a_new_game_would() {
    let mut arena = default_bot();
    arena.handshake(&Welcome::new(6, 4, 1));
    // Port 2 loses a stock on frame 40.
    let game: Vec<_> = (0..80)
        .map(|n| frame(n, if n < 40 { [4, 4] } else { [4, 3] }))
        .collect();
    let packed = pack(&game, 1);
    let whole = play(&mut arena, 1, 0, &packed);
    let from_the_loss = play(&mut arena, 2, 0, &packed[40 * FRAME_SIZE..]);
    assert_eq!(
        whole[40..],
        from_the_loss[..],
        "after the reset the state is a fresh game's"
    );
    assert!(
        arena
            .log
            .lock()
            .unwrap()
            .iter()
            .all(|line| !line.contains("ERROR")),
        "no errors"
    );
    arena.send(&Tagged { t: "shutdown" });
    assert_eq!(arena.wait().code(), Some(0));
}

/// A bot past its handshake, with game 1 started on lane 0.
fn playing() -> Arena {
    let mut arena = default_bot();
    arena.handshake(&Welcome::new(6, 4, 2));
    arena.new_games(&[(1, "FOX")]);
    arena
}

fn one_frame() -> Vec<u8> {
    pack(&[frame(0, [4, 4])], 1)
}

#[test]
fn a_message_that_is_not_a_map_is_malformed() {
    let mut arena = playing();
    arena.send_body(b"\x93\x01\x02\x03");
    let msg = arena.expect_error("malformed");
    assert!(msg.contains("map"), "{msg}");
}

#[test]
fn garbage_bytes_are_malformed() {
    let mut arena = playing();
    arena.send_body(b"\xc1\xc1\xc1");
    arena.expect_error("malformed");
}

#[test]
fn an_unknown_message_type_is_named() {
    let mut arena = playing();
    arena.send(&Tagged { t: "dance" });
    let msg = arena.expect_error("unknown_message");
    assert!(msg.contains("dance"), "{msg}");
}

#[test]
fn a_known_message_with_missing_fields_is_malformed() {
    let mut arena = playing();
    arena.send(&Tagged { t: "obs" });
    let msg = arena.expect_error("malformed");
    assert!(msg.contains("obs"), "{msg}");
}

#[test]
fn an_obs_for_an_unknown_game_is_named() {
    let mut arena = playing();
    arena.post("obs", 0, &[99], &[true], &one_frame());
    let msg = arena.expect_error("unknown_game");
    assert!(msg.contains("99"), "{msg}");
}

#[test]
fn an_array_of_the_wrong_size_is_named() {
    let mut arena = playing();
    let mut frames = one_frame();
    frames.pop();
    arena.post("obs", 0, &[1], &[true], &frames);
    let msg = arena.expect_error("bad_array");
    assert!(msg.contains("769 frame bytes"), "{msg}");
}

#[test]
fn a_frame_with_an_unknown_character_is_named() {
    let mut arena = playing();
    let mut frames = one_frame();
    frames[21 + 1] = 0x40; // players[0].character
    arena.post("obs", 0, &[1], &[true], &frames);
    let msg = arena.expect_error("bad_frame");
    assert!(msg.contains("character id 64"), "{msg}");
}

#[test]
fn an_oversized_length_is_refused() {
    let mut arena = playing();
    arena.send_raw(&u32::MAX.to_le_bytes());
    arena.expect_error("too_large");
}

#[test]
fn a_game_started_twice_or_moved_between_lanes_is_refused() {
    let mut arena = playing();
    arena.new_games(&[(1, "FOX")]);
    let msg = arena.expect_error("bad_game");
    assert!(msg.contains("started twice"), "{msg}");

    let mut arena = playing();
    arena.exchange("obs", 0, &[1], &[true], &one_frame());
    arena.post("obs", 1, &[1], &[false], &one_frame());
    let msg = arena.expect_error("bad_game");
    assert!(msg.contains("moved from lane 0 to lane 1"), "{msg}");
}

#[test]
fn a_game_twice_in_one_obs_is_refused() {
    let mut arena = playing();
    let two: Vec<u8> = one_frame().repeat(2);
    arena.post("obs", 0, &[1, 1], &[true, true], &two);
    let msg = arena.expect_error("bad_game");
    assert!(msg.contains("game 1 appears twice"), "{msg}");
}

#[test]
fn more_games_than_granted_or_a_lane_past_the_welcome_are_refused() {
    let mut arena = playing();
    arena.new_games(&[(2, "FOX"), (3, "FOX"), (4, "FOX"), (5, "FOX")]);
    let msg = arena.expect_error("bad_game");
    assert!(msg.contains("max_games 4"), "{msg}");

    let mut arena = playing();
    arena.post("obs", 2, &[1], &[true], &one_frame());
    let msg = arena.expect_error("malformed");
    assert!(msg.contains("lane 2"), "{msg}");
}

#[test]
fn an_unknown_character_or_game_end_is_refused() {
    let mut arena = playing();
    arena.new_games(&[(2, "WALUIGI")]);
    let msg = arena.expect_error("unplayable");
    assert!(msg.contains("WALUIGI"), "{msg}");

    let mut arena = playing();
    arena.end_games(&[42]);
    arena.expect_error("unknown_game");
}

#[test]
fn a_message_out_of_order_is_refused() {
    let mut arena = default_bot();
    assert_eq!(arena.recv().t, "hello");
    arena.send(&Tagged { t: "ready" });
    let msg = arena.expect_error("unknown_message");
    assert!(msg.contains("ready"), "{msg}");

    let mut arena = default_bot();
    assert_eq!(arena.recv().t, "hello");
    arena.new_games(&[(1, "FOX")]);
    let msg = arena.expect_error("unexpected_message");
    assert!(msg.contains("expected welcome"), "{msg}");
}

#[test]
fn an_arena_that_hangs_up_mid_session_is_an_error_exit() {
    let mut arena = playing();
    arena.exchange("obs", 0, &[1], &[true], &one_frame());
    arena.close();
    let status = arena.wait();
    assert_eq!(status.code(), Some(1), "{status}");
}

#[test]
fn a_shutdown_instead_of_a_welcome_is_a_clean_exit() {
    let mut arena = default_bot();
    assert_eq!(arena.recv().t, "hello");
    arena.send(&Tagged { t: "shutdown" });
    assert_eq!(arena.wait().code(), Some(0));
}

/// One HTTP/1.1 GET on loopback; the response's body.
fn scrape(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to /metrics");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

#[test]
fn metrics_count_the_games_a_bot_plays() {
    // A free loopback port for the bot's endpoint.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let models = Arena::models();
    let endpoint = addr.to_string();
    let mut arena = Arena::start(
        &["--models", models.to_str().unwrap(), "--metrics", &endpoint],
        &[],
    );
    arena.handshake(&Welcome::new(6, 4, 1));
    arena.new_games(&[(5, "FOX")]);
    // Ten frames; a stock lost on the last.
    let mut game = frames(-123, -114);
    game.push(frame(-114, [3, 4]));
    let packed = pack(&game, 1);
    for (t, bytes) in packed.chunks_exact(FRAME_SIZE).enumerate() {
        arena.exchange("obs", 0, &[5], &[t == 0], bytes);
    }
    let text = scrape(addr, "/metrics");
    let value = |series: &str| {
        fourstock_tests::metrics::value(&text, series)
            .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
            .to_string()
    };
    assert_eq!(value("fourstock_frames_total"), "10");
    assert_eq!(value("fourstock_replies_total{kind=\"on_time\"}"), "10");
    assert_eq!(value("fourstock_steps_total{model=\"generic-lstm\"}"), "10");
    assert_eq!(value("fourstock_resets_total{cause=\"new_match\"}"), "1");
    assert_eq!(value("fourstock_resets_total{cause=\"stock_loss\"}"), "1");
    assert_eq!(value("fourstock_sessions_opened_total"), "1");
    assert_eq!(value("fourstock_sessions_open"), "1");
    let weights: u64 = value("fourstock_model_parameters{model=\"generic-lstm\"}")
        .parse()
        .unwrap();
    assert!(weights > 100_000, "the default model's weights: {weights}");
    assert!(scrape(addr, "/healthz").ends_with("ok\n"));
    arena.end_games(&[5]);
    arena.send(&Tagged { t: "shutdown" });
    assert_eq!(arena.wait().code(), Some(0));
}

/// Steps each model took, read from a bot's metrics.
fn steps_by_model(addr: std::net::SocketAddr, models: &[&str]) -> Vec<String> {
    let text = scrape(addr, "/metrics");
    models
        .iter()
        .map(|m| {
            fourstock_tests::metrics::value(
                &text,
                &format!("fourstock_steps_total{{model=\"{m}\"}}"),
            )
            .unwrap_or("0")
            .to_string()
        })
        .collect()
}

#[test]
fn the_model_trained_at_the_arenas_delay_plays() {
    // The default model (delay 6) and a copy of it trained, says its
    // config, at delay 18.
    let folder = std::env::temp_dir().join(format!("fourstock-umi-delays-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&folder);
    models_folder(&folder, &["generic-lstm"], |_| {});
    let d18 = folder.join("generic-lstm-d18");
    std::fs::create_dir_all(&d18).unwrap();
    std::fs::copy(
        folder.join("generic-lstm/model.safetensors"),
        d18.join("model.safetensors"),
    )
    .unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("generic-lstm/config.json")).unwrap())
            .unwrap();
    config["name"] = "generic-lstm-d18".into();
    config["delay"] = 18.into();
    std::fs::write(
        d18.join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();

    let names = ["generic-lstm", "generic-lstm-d18"];
    for (delay, want) in [(18, ["0", "3"]), (6, ["3", "0"]), (21, ["3", "0"])] {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let endpoint = addr.to_string();
        let mut arena = Arena::start(
            &["--models", folder.to_str().unwrap(), "--metrics", &endpoint],
            &[],
        );
        arena.handshake(&Welcome::new(delay, 4, 1));
        arena.new_games(&[(1, "FOX")]);
        let packed = pack(&frames(-123, -120), 1);
        for (t, bytes) in packed.chunks_exact(FRAME_SIZE).enumerate() {
            arena.exchange("obs", 0, &[1], &[t == 0], bytes);
        }
        assert_eq!(
            steps_by_model(addr, &names),
            want,
            "welcome delay {delay}: steps of {names:?}"
        );
        arena.end_games(&[1]);
        arena.send(&Tagged { t: "shutdown" });
        assert_eq!(arena.wait().code(), Some(0));
    }
    let _ = std::fs::remove_dir_all(&folder);
}
