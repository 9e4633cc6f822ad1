//! Slippi replays (.slp) made by hand, byte by byte, for the tests that
//! must run without the real replays: the smallest file peppi reads, and
//! the same file with one field bent.
//!
//! A replay is UBJSON: `{`, the `raw` key and its byte-array header, a
//! big-endian `u32` raw length, the raw event stream, then `}` (metadata
//! left out). The stream opens with the Event Payloads event (0x35, one
//! size byte, then code and `u16` size per event), then a Game Start
//! (0x36); this one is Slippi 0.1.0, whose Game Start is 320 bytes, with
//! two human players.

/// Event codes, as the Slippi spec numbers them.
pub const PAYLOADS: u8 = 0x35;
pub const GAME_START: u8 = 0x36;
pub const FRAME_PRE: u8 = 0x37;
pub const GAME_END: u8 = 0x39;

/// The UBJSON bytes before the raw length: `{`, `U\x03raw`, `[$U#l`.
pub const SIGNATURE: [u8; 11] = [
    0x7b, 0x55, 0x03, 0x72, 0x61, 0x77, 0x5b, 0x24, 0x55, 0x23, 0x6c,
];

/// A Game Start payload of Slippi 0.1.0: Fox against Falco on
/// Battlefield, ports 1 and 2 human, the other four empty.
pub fn game_start() -> Vec<u8> {
    let mut start = vec![0u8; 320];
    start[..4].copy_from_slice(&[0, 1, 0, 0]);
    start[18..20].copy_from_slice(&31u16.to_be_bytes());
    // Six 36-byte player blocks from byte 100: character, then type
    // (0 human, 3 empty).
    for (slot, character) in [2u8, 20, 0, 0, 0, 0].into_iter().enumerate() {
        let player = 100 + 36 * slot;
        start[player] = character;
        start[player + 1] = if slot < 2 { 0 } else { 3 };
    }
    start
}

/// A replay whose raw stream is the payload sizes, the Game Start and
/// `events` (code, payload) in order; `raw_len` overrides the true raw
/// length in the header.
pub fn replay(events: &[(u8, Vec<u8>)], raw_len: Option<u32>) -> Vec<u8> {
    let mut sizes: Vec<(u8, u16)> = vec![(GAME_START, 320), (GAME_END, 1)];
    for (code, payload) in events {
        if !sizes.iter().any(|(c, _)| c == code) {
            sizes.push((*code, payload.len() as u16));
        }
    }
    let mut raw = vec![PAYLOADS, (1 + 3 * sizes.len()) as u8];
    for (code, size) in &sizes {
        raw.push(*code);
        raw.extend_from_slice(&size.to_be_bytes());
    }
    raw.push(GAME_START);
    raw.extend_from_slice(&game_start());
    for (code, payload) in events {
        raw.push(*code);
        raw.extend_from_slice(payload);
    }
    let mut file = SIGNATURE.to_vec();
    file.extend_from_slice(&raw_len.unwrap_or(raw.len() as u32).to_be_bytes());
    file.extend_from_slice(&raw);
    file.push(b'}');
    file
}

/// A whole game in nothing: the Game Start, then a Game End (method 2,
/// time out).
pub fn ended() -> Vec<u8> {
    replay(&[(GAME_END, vec![2])], None)
}

/// A file peppi panics on: a Frame Pre for frame 5 when no frame has
/// begun, which trips its `assert_eq!` on the frame number.
pub fn panicking() -> Vec<u8> {
    let mut pre = vec![0u8; 8];
    pre[..4].copy_from_slice(&5i32.to_be_bytes());
    replay(&[(FRAME_PRE, pre), (GAME_END, vec![2])], None)
}

/// [`ended`] whose header claims a raw stream of `raw_len` bytes. peppi
/// stops at the Game End and then allocates the rest of the claimed
/// stream, up to 4 GiB, before reading it.
pub fn claiming(raw_len: u32) -> Vec<u8> {
    replay(&[(GAME_END, vec![2])], Some(raw_len))
}

/// Writes `bytes` to a fresh file named `name` under the temp dir, unique
/// to this process, and returns its path.
pub fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fourstock-slp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}
