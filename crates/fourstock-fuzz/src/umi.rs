//! The UMI bot's read path for the arena's bytes: the framing
//! ([`wire::read_message`]), the msgpack of each message
//! ([`message::decode`]), and for an `obs` or `warmup` every packed frame
//! ([`frame::read`]), as a lane reads them. A frame is read from the port
//! `1 + game % 4`, so every seat the arena may grant is reached.

use fourstock_proto::{Frame, StageState};
use fourstock_umi::frame::{self, FRAME_SIZE};
use fourstock_umi::message::{self, ArenaMessage};
use fourstock_umi::wire;

/// One arena's stream, message by message, until it ends or fails.
pub fn arena(data: &[u8]) {
    let mut reader = data;
    let mut body = Vec::new();
    let mut out = Frame {
        frame: 0,
        stage: 0,
        stage_state: StageState::NONE,
        players: Vec::new(),
    };
    while let Ok(Some(())) = wire::read_message(&mut reader, &mut body) {
        let obs = match message::decode(&body) {
            Ok(ArenaMessage::Obs(obs) | ArenaMessage::Warmup(obs)) => obs,
            _ => continue,
        };
        assert_eq!(obs.frames.len(), obs.games.len() * FRAME_SIZE);
        for (game, bytes) in obs.games.iter().zip(obs.frames.chunks_exact(FRAME_SIZE)) {
            let port = 1 + (game % 4) as u8;
            let _ = frame::read(bytes, port, &mut out);
        }
    }
}
