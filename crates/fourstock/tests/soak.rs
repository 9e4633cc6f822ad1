//! `fourstock soak` for a few seconds against the real daemon: sessions
//! reconnect, roll back and skip frames, every reply is judged, and the
//! daemon's memory and files are read. The counts must agree with one
//! another and no reply may be wrong.

use std::path::PathBuf;
use std::time::Duration;

mod daemon;

use daemon::{fourstock, repo, start_daemon};

#[test]
fn a_short_soak_reconnects_rolls_back_skips_and_finds_every_reply_right() {
    let replays = std::env::var_os("FOURSTOCK_REPLAYS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/replays"));
    if !replays.is_dir() {
        println!("SKIP: soak: {} not found", replays.display());
        return;
    }
    let (daemon, addr) = start_daemon(&repo().join("models"), &[]);
    let out = fourstock(
        &[
            "soak".as_ref(),
            "--connect".as_ref(),
            addr.to_string().as_ref(),
            "--daemon-pid".as_ref(),
            daemon.child.id().to_string().as_ref(),
            "--replays".as_ref(),
            replays.as_os_str(),
            "--max-replays".as_ref(),
            "2".as_ref(),
            "--sessions".as_ref(),
            "8".as_ref(),
            "--seconds".as_ref(),
            "4".as_ref(),
            "--reconnect-secs".as_ref(),
            "1".as_ref(),
            "--resend-percent".as_ref(),
            "10".as_ref(),
            "--gap-percent".as_ref(),
            "5".as_ref(),
            "--sample-secs".as_ref(),
            "1".as_ref(),
            "--warmup-secs".as_ref(),
            "1".as_ref(),
            "--json".as_ref(),
        ],
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "soak: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let (summary, readings) = lines.split_last().expect("a summary line");
    let count = |key: &str| {
        summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {summary}"))
    };
    assert_eq!(count("violations"), 0, "{summary}");
    assert_eq!(count("errors"), 0, "{summary}");
    assert!(count("reconnects") > 0, "sessions reconnected: {summary}");
    assert!(count("resends") > 0, "frames were re-sent: {summary}");
    assert!(count("gaps") > 0, "frames were skipped: {summary}");
    assert!(count("frames") > count("resends"), "{summary}");
    assert_eq!(
        count("replies"),
        count("frames"),
        "one reply per frame sent, re-sends included: {summary}"
    );
    // One reading a second for 4 s, each with the totals growing.
    assert!(readings.len() >= 3, "{readings:?}");
    for pair in readings.windows(2) {
        assert!(pair[1]["frames"].as_u64() >= pair[0]["frames"].as_u64());
        assert!(pair[1]["rss_kib"].as_u64() > Some(0));
    }
    assert!(count("rss_kib_first") > 0);
    assert!(count("rss_kib_max") >= count("rss_kib_last"));
    assert!(
        count("fds_after_close") <= count("fds_first"),
        "every connection's file was given back: {summary}"
    );
}
