//! The checks every decoded client message passes before the daemon acts on
//! it: known magic and version, a token of bounded length, ports 1 to 4, character and stage ids in
//! range, finite floats (the stage's and the players'), analog values in
//! range, no duplicated players.

use crate::controller::{Buttons, ControllerState};
use crate::error::DecodeError;
use crate::melee::{CHARACTERS, STAGES};
use crate::message::{ClientMessage, Frame, Hello, MatchStart, PlayerFrame, StageState};
use crate::{MAGIC, MAX_TOKEN_BYTES, PROTOCOL_VERSION};

/// Ports are numbered as on the console.
pub const PORTS: std::ops::RangeInclusive<u8> = 1..=4;
/// At most four players and four followers.
pub const MAX_PLAYERS: usize = 8;

/// Checks one decoded client message.
pub fn client_message(message: &ClientMessage) -> Result<(), DecodeError> {
    match message {
        ClientMessage::Hello(hello) => self::hello(hello),
        ClientMessage::MatchStart(start) => match_start(start),
        ClientMessage::Frame(frame) => self::frame(frame),
        ClientMessage::MatchEnd(_) => Ok(()),
    }
}

/// Checks a `Hello`'s magic, then its version.
pub fn magic_and_version(magic: [u8; 4], version: u16) -> Result<(), DecodeError> {
    if magic != MAGIC {
        return Err(DecodeError::BadMagic(magic));
    }
    if version != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            got: version,
            supported: PROTOCOL_VERSION,
        });
    }
    Ok(())
}

fn hello(hello: &Hello) -> Result<(), DecodeError> {
    magic_and_version(hello.magic, hello.version)?;
    if let Some(token) = &hello.token {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(DecodeError::OutOfRange {
                what: "the Hello's token length".into(),
                value: token.len() as i64,
                range: "0 to 256 bytes",
            });
        }
    }
    if hello.ports.is_empty() {
        return Err(DecodeError::Port("the handshake names no port".into()));
    }
    for (i, request) in hello.ports.iter().enumerate() {
        port(request.port)?;
        character(request.character)?;
        if hello.ports[..i].iter().any(|r| r.port == request.port) {
            return Err(DecodeError::Port(format!(
                "port {} is requested twice",
                request.port
            )));
        }
    }
    Ok(())
}

fn match_start(start: &MatchStart) -> Result<(), DecodeError> {
    stage(start.stage)?;
    if start.players.len() > MAX_PLAYERS {
        return Err(too_many_players(start.players.len()));
    }
    for (i, player) in start.players.iter().enumerate() {
        port(player.port)?;
        character(player.character)?;
        if start.players[..i].iter().any(|q| q.port == player.port) {
            return Err(DecodeError::Port(format!(
                "port {} appears twice in the match start",
                player.port
            )));
        }
    }
    Ok(())
}

/// Checks one frame: its stage, stage state and players.
pub fn frame(frame: &Frame) -> Result<(), DecodeError> {
    stage(frame.stage)?;
    stage_state(frame.frame, &frame.stage_state)?;
    if frame.players.len() > MAX_PLAYERS {
        return Err(too_many_players(frame.players.len()));
    }
    for (i, p) in frame.players.iter().enumerate() {
        player(p)?;
        if frame.players[..i]
            .iter()
            .any(|q| q.port == p.port && q.follower == p.follower)
        {
            return Err(DecodeError::Port(format!(
                "port {} appears twice in frame {}",
                p.port, frame.frame
            )));
        }
    }
    Ok(())
}

fn player(p: &PlayerFrame) -> Result<(), DecodeError> {
    port(p.port)?;
    character(p.character)?;
    let floats = [
        ("action_frame", p.action_frame),
        ("x", p.x),
        ("y", p.y),
        ("percent", p.percent),
        ("shield", p.shield),
        ("hitlag_left", p.hitlag_left),
        ("hitstun_left", p.hitstun_left),
        ("speed_air_x_self", p.speed_air_x_self),
        ("speed_ground_x_self", p.speed_ground_x_self),
        ("speed_y_self", p.speed_y_self),
        ("speed_x_attack", p.speed_x_attack),
        ("speed_y_attack", p.speed_y_attack),
    ];
    for (name, value) in floats {
        finite(p.port, name, value)?;
    }
    controller(p.port, &p.controller)
}

fn stage_state(frame: i32, s: &StageState) -> Result<(), DecodeError> {
    let floats = [
        ("randall x", s.randall[0]),
        ("randall y", s.randall[1]),
        ("fod_platforms left", s.fod_platforms[0]),
        ("fod_platforms right", s.fod_platforms[1]),
    ];
    for (name, value) in floats {
        if !value.is_finite() {
            return Err(DecodeError::InvalidValue {
                what: format!("frame {frame} stage_state {name}"),
                value,
            });
        }
    }
    Ok(())
}

/// Checks a controller: known buttons only, analog values finite and in 0..=1.
pub fn controller(port: u8, c: &ControllerState) -> Result<(), DecodeError> {
    if c.buttons.0 & !Buttons::ALL != 0 {
        return Err(DecodeError::OutOfRange {
            what: format!("port {port} button bits"),
            value: c.buttons.0 as i64,
            range: "the 12 defined buttons",
        });
    }
    let names = ["main_x", "main_y", "c_x", "c_y", "l_trigger", "r_trigger"];
    for (name, value) in names.into_iter().zip(c.analog()) {
        finite(port, name, value)?;
        if !(0.0..=1.0).contains(&value) {
            return Err(DecodeError::InvalidValue {
                what: format!("port {port} controller {name} (must be 0..=1)"),
                value,
            });
        }
    }
    Ok(())
}

fn finite(port: u8, name: &str, value: f32) -> Result<(), DecodeError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(DecodeError::InvalidValue {
            what: format!("port {port} {name}"),
            value,
        })
    }
}

fn port(port: u8) -> Result<(), DecodeError> {
    if PORTS.contains(&port) {
        Ok(())
    } else {
        Err(DecodeError::Port(format!(
            "port {port} is not one of 1..=4"
        )))
    }
}

fn character(id: u8) -> Result<(), DecodeError> {
    if id < CHARACTERS {
        Ok(())
    } else {
        Err(DecodeError::OutOfRange {
            what: "character id".into(),
            value: id as i64,
            range: "0..=32",
        })
    }
}

fn stage(id: u16) -> Result<(), DecodeError> {
    if id < STAGES {
        Ok(())
    } else {
        Err(DecodeError::OutOfRange {
            what: "stage id".into(),
            value: id as i64,
            range: "0..=63",
        })
    }
}

fn too_many_players(n: usize) -> DecodeError {
    DecodeError::OutOfRange {
        what: "player count".into(),
        value: n as i64,
        range: "0..=8",
    }
}
