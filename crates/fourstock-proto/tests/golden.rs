//! The golden vectors in `proto/golden/`: the exact wire bytes (length prefix
//! included) of one sample of every message. Each test encodes the sample
//! from `common/mod.rs` and compares it with the file byte for byte, then
//! decodes the file and compares the result with the sample.
//!
//! `FOURSTOCK_BLESS=1 cargo test -p fourstock-proto --test golden` rewrites the
//! files from the samples instead. Do that only for a deliberate wire change,
//! together with a `PROTOCOL_VERSION` bump and an update of
//! `proto/PROTOCOL.md` and `proto/python/`.

mod common;

use std::path::PathBuf;

use fourstock_proto::{
    decode_client, decode_server, encode_client, encode_server, ClientMessage, ServerMessage,
};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/golden")
}

fn blessing() -> bool {
    std::env::var_os("FOURSTOCK_BLESS").is_some_and(|v| v == "1")
}

/// Compares `wire` with the golden file `name`, or writes it when blessing.
/// Returns the file's payload (after the length prefix).
fn check(name: &str, wire: &[u8]) -> Vec<u8> {
    let path = golden_dir().join(name);
    if blessing() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, wire).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with FOURSTOCK_BLESS=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        hex(wire),
        hex(&golden),
        "encoding differs from {}: the wire format changed",
        path.display()
    );
    assert!(golden.len() >= 4, "{name} has no length prefix");
    let len = u32::from_le_bytes(golden[..4].try_into().unwrap()) as usize;
    assert_eq!(
        len,
        golden.len() - 4,
        "{name}: prefix does not match its payload"
    );
    golden[4..].to_vec()
}

/// Hex with a space every byte and a newline every 16, so a failing
/// comparison shows where the bytes part.
fn hex(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|row| {
            row.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn client(name: &str, message: ClientMessage) {
    let payload = check(name, &encode_client(&message));
    assert_eq!(decode_client(&payload).unwrap(), message, "{name}");
}

fn server(name: &str, message: ServerMessage) {
    let payload = check(name, &encode_server(&message));
    assert_eq!(decode_server(&payload).unwrap(), message, "{name}");
}

#[test]
fn hello() {
    client("hello.bin", ClientMessage::Hello(common::hello()));
}

#[test]
fn match_start() {
    client(
        "match_start.bin",
        ClientMessage::MatchStart(common::match_start()),
    );
}

#[test]
fn frame() {
    client("frame.bin", ClientMessage::Frame(common::frame()));
}

#[test]
fn match_end() {
    client(
        "match_end.bin",
        ClientMessage::MatchEnd(common::match_end()),
    );
}

#[test]
fn welcome() {
    server("welcome.bin", ServerMessage::Welcome(common::welcome()));
}

#[test]
fn reply() {
    server("reply.bin", ServerMessage::Reply(common::reply()));
}

#[test]
fn error() {
    server("error.bin", ServerMessage::Error(common::error()));
}

/// The documented sizes in PROTOCOL.md's table of golden vectors.
#[test]
fn sizes_match_the_spec() {
    let sizes = [
        ("hello.bin", 94),
        ("match_start.bin", 22),
        ("frame.bin", 290),
        ("match_end.bin", 13),
        ("welcome.bin", 223),
        ("reply.bin", 86),
        ("error.bin", 54),
    ];
    if blessing() {
        return;
    }
    for (name, size) in sizes {
        let path = golden_dir().join(name);
        let len = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .len();
        assert_eq!(len, size, "{name}");
    }
}
