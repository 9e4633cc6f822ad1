//! UMI's `Frame`, the packed 770-byte record of `umi.frame.FRAME`, to and
//! from the protocol [`Frame`] every policy reads.
//!
//! A UMI frame is seen from the bot's seat: `players[0]` is the bot and
//! `players[1]` its opponent, with each one's Nana beside them. Characters
//! and stages carry libmelee's internal ids; the protocol frame carries the
//! external ones, so both go through [`fourstock_proto::melee`]. The bot
//! plays `port`; the opponent gets the lowest other port. The shoulder is
//! one analog value, which becomes the L trigger (policies read the
//! harder-pressed trigger). Items are not read: no policy reads them.
//!
//! The layout is written out as offsets rather than read through a crate:
//! it is one fixed C struct, and `crates/fourstock/tests/umi_replay.rs`
//! checks it against umi-melee's own numpy dtype, field by field.

use fourstock_proto::melee::{
    external_character, external_stage, internal_character, internal_stage,
};
use fourstock_proto::{validate, Buttons, ControllerState, Frame, PlayerFrame, StageState};

/// Bytes in one frame.
pub const FRAME_SIZE: usize = 770;
/// Bytes in one fighter (`umi.frame.FIGHTER`).
const FIGHTER_SIZE: usize = 71;
const PLAYERS_AT: usize = 21;
const NANA_AT: usize = PLAYERS_AT + 2 * FIGHTER_SIZE;
/// Where the items start; they run to the end of the frame.
const ITEMS_AT: usize = NANA_AT + 2 * FIGHTER_SIZE;
const ITEM_SIZE: usize = 31;
const MAX_ITEMS: usize = 15;
const _: () = assert!(ITEMS_AT + MAX_ITEMS * ITEM_SIZE == FRAME_SIZE);

/// The UMI controller row's button bits, in `umi.frame.BUTTONS` order:
/// A B X Y Z L R D_UP, the order of [`Buttons::PLAYED`].
const BUTTON_BITS: [u16; 8] = Buttons::PLAYED;

/// Values per controller row: the sticks, the shoulder, then the buttons.
pub const CTRL_WIDTH: usize = 13;

/// A frame that cannot be played, and why.
#[derive(Debug, PartialEq)]
pub struct BadFrame(pub String);

/// The opponent's port when the bot plays `port`.
pub fn opponent_port(port: u8) -> u8 {
    if port == 1 {
        2
    } else {
        1
    }
}

/// Reads `bytes` (one packed frame) into `out`, seen from `port`. `out`'s
/// player list is reused, so a lane allocates once per game slot.
pub fn read(bytes: &[u8], port: u8, out: &mut Frame) -> Result<(), BadFrame> {
    assert_eq!(bytes.len(), FRAME_SIZE, "one frame");
    let b = Bytes(bytes);
    out.frame = b.i32(0);
    out.stage = match b.u8(4) {
        0 => 0,
        internal => external_stage(internal)
            .ok_or_else(|| BadFrame(format!("unknown stage id {internal}")))?,
    };
    out.stage_state = StageState {
        randall: [b.f32(5), b.f32(9)],
        fod_platforms: [b.f32(13), b.f32(17)],
    };
    out.players.clear();
    let ports = [port, opponent_port(port)];
    for (seat, &seat_port) in ports.iter().enumerate() {
        out.players.push(fighter(
            &b,
            PLAYERS_AT + seat * FIGHTER_SIZE,
            seat_port,
            false,
        )?);
        let nana = NANA_AT + seat * FIGHTER_SIZE;
        if b.u8(nana) != 0 {
            out.players.push(fighter(&b, nana, seat_port, true)?);
        }
    }
    validate::frame(out).map_err(|e| BadFrame(e.to_string()))
}

fn fighter(b: &Bytes, at: usize, port: u8, follower: bool) -> Result<PlayerFrame, BadFrame> {
    let internal = b.u8(at + 1);
    let character = external_character(internal)
        .ok_or_else(|| BadFrame(format!("unknown character id {internal}")))?;
    let c = at + 50;
    let pressed = b.u8(c + 20);
    let mut buttons = Buttons::default();
    for (bit, &button) in BUTTON_BITS.iter().enumerate() {
        buttons.set(button, pressed & (1 << bit) != 0);
    }
    Ok(PlayerFrame {
        port,
        follower,
        character,
        stocks: b.u8(at + 2),
        facing_right: b.u8(at + 3) == 1,
        on_ground: b.u8(at + 4) != 0,
        invulnerable: b.u8(at + 5) != 0,
        jumps_left: b.u8(at + 7),
        action_state: b.u16(at + 8),
        action_frame: b.i16(at + 10) as f32,
        percent: b.u16(at + 12) as f32,
        hitlag_left: b.u16(at + 14) as f32,
        hitstun_left: b.u16(at + 16) as f32,
        x: b.f32(at + 18),
        y: b.f32(at + 22),
        shield: b.f32(at + 26),
        speed_air_x_self: b.f32(at + 30),
        speed_ground_x_self: b.f32(at + 34),
        speed_y_self: b.f32(at + 38),
        speed_x_attack: b.f32(at + 42),
        speed_y_attack: b.f32(at + 46),
        controller: ControllerState {
            buttons,
            main_x: b.f32(c),
            main_y: b.f32(c + 4),
            c_x: b.f32(c + 8),
            c_y: b.f32(c + 12),
            l_trigger: b.f32(c + 16),
            r_trigger: 0.0,
        },
    })
}

/// Writes `frame` as UMI packs it for the bot on `port`: that port's leader
/// in seat 0, the lowest other leader in seat 1. For arena stand-ins and
/// tests; percent is floored, as the game shows it and the arena sends it.
/// `None` when `port` has no leader in the frame.
pub fn write(frame: &Frame, port: u8) -> Option<[u8; FRAME_SIZE]> {
    let mut out = [0u8; FRAME_SIZE];
    let me = frame.player(port)?;
    let opponent = frame.opponent(port);
    out[0..4].copy_from_slice(&frame.frame.to_le_bytes());
    out[4] = internal_stage(frame.stage);
    for (at, v) in [5, 9, 13, 17].into_iter().zip([
        frame.stage_state.randall[0],
        frame.stage_state.randall[1],
        frame.stage_state.fod_platforms[0],
        frame.stage_state.fod_platforms[1],
    ]) {
        out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    for (seat, leader) in [Some(me), opponent].into_iter().enumerate() {
        let Some(leader) = leader else { continue };
        write_fighter(
            leader,
            &mut out[PLAYERS_AT + seat * FIGHTER_SIZE..][..FIGHTER_SIZE],
        );
        if let Some(nana) = frame
            .players
            .iter()
            .find(|p| p.follower && p.port == leader.port)
        {
            write_fighter(
                nana,
                &mut out[NANA_AT + seat * FIGHTER_SIZE..][..FIGHTER_SIZE],
            );
        }
    }
    Some(out)
}

fn write_fighter(p: &PlayerFrame, out: &mut [u8]) {
    out[0] = 1;
    out[1] = if p.follower {
        fourstock_proto::melee::INTERNAL_NANA
    } else {
        internal_character(p.character).unwrap_or(0xFF)
    };
    out[2] = p.stocks;
    out[3] = p.facing_right as u8;
    out[4] = p.on_ground as u8;
    out[5] = p.invulnerable as u8;
    out[7] = p.jumps_left;
    out[8..10].copy_from_slice(&p.action_state.to_le_bytes());
    out[10..12].copy_from_slice(&(p.action_frame as i16).to_le_bytes());
    out[12..14].copy_from_slice(&(p.percent as u16).to_le_bytes());
    out[14..16].copy_from_slice(&(p.hitlag_left as u16).to_le_bytes());
    out[16..18].copy_from_slice(&(p.hitstun_left as u16).to_le_bytes());
    let floats = [
        p.x,
        p.y,
        p.shield,
        p.speed_air_x_self,
        p.speed_ground_x_self,
        p.speed_y_self,
        p.speed_x_attack,
        p.speed_y_attack,
    ];
    for (i, v) in floats.into_iter().enumerate() {
        out[18 + 4 * i..22 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    if p.follower {
        return; // Nana's controller is zero.
    }
    let c = &p.controller;
    // The sticks and shoulder as the controller row has them.
    for (i, v) in ctrl_row(c)[..5].iter().enumerate() {
        out[50 + 4 * i..54 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    out[70] = BUTTON_BITS
        .iter()
        .enumerate()
        .filter(|(_, &button)| c.buttons.contains(button))
        .fold(0u8, |bits, (bit, _)| bits | 1 << bit);
}

/// A controller as UMI's row: sticks, shoulder (the harder-pressed
/// trigger), then 1.0 for each pressed button.
pub fn ctrl_row(c: &ControllerState) -> [f32; CTRL_WIDTH] {
    let mut row = [0.0; CTRL_WIDTH];
    row[..5].copy_from_slice(&[c.main_x, c.main_y, c.c_x, c.c_y, c.shoulder()]);
    for (slot, &button) in row[5..].iter_mut().zip(&BUTTON_BITS) {
        *slot = c.buttons.contains(button) as u8 as f32;
    }
    row
}

/// Little-endian reads at fixed offsets of one frame.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&self, at: usize) -> u8 {
        self.0[at]
    }
    fn u16(&self, at: usize) -> u16 {
        u16::from_le_bytes([self.0[at], self.0[at + 1]])
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes([self.0[at], self.0[at + 1]])
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.0[at..at + 4].try_into().expect("4 bytes"))
    }
    fn f32(&self, at: usize) -> f32 {
        f32::from_le_bytes(self.0[at..at + 4].try_into().expect("4 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_proto::melee::{BATTLEFIELD, ICE_CLIMBERS, SHEIK};

    fn game() -> Frame {
        let mut me = PlayerFrame::new(3, SHEIK);
        me.x = -12.5;
        me.percent = 37.0;
        me.stocks = 2;
        me.action_frame = 4.0;
        me.controller.main_x = 0.25;
        me.controller.r_trigger = 0.75;
        me.controller.buttons = Buttons(Buttons::A | Buttons::D_UP);
        let popo = PlayerFrame {
            y: 8.0,
            ..PlayerFrame::new(1, ICE_CLIMBERS)
        };
        let nana = PlayerFrame {
            follower: true,
            x: 3.0,
            controller: ControllerState::NEUTRAL,
            ..PlayerFrame::new(1, ICE_CLIMBERS)
        };
        Frame {
            frame: 100,
            stage: BATTLEFIELD,
            stage_state: StageState::NONE,
            players: vec![popo, nana, me],
        }
    }

    #[test]
    fn a_frame_survives_the_trip_seen_from_its_port() {
        let frame = game();
        let bytes = write(&frame, 3).unwrap();
        assert_eq!(bytes[4], 0x18, "Battlefield's internal id");
        let mut back = Frame {
            frame: 0,
            stage: 0,
            stage_state: StageState::NONE,
            players: Vec::new(),
        };
        read(&bytes, 3, &mut back).unwrap();
        assert_eq!(back.frame, 100);
        assert_eq!(back.stage, BATTLEFIELD);
        let me = back.player(3).unwrap();
        assert_eq!(
            me,
            &PlayerFrame {
                controller: ControllerState {
                    l_trigger: 0.75,
                    r_trigger: 0.0,
                    ..frame.players[2].controller
                },
                ..frame.players[2].clone()
            }
        );
        // The opponent takes the lowest other port, with Nana beside it.
        let popo = back.player(1).unwrap();
        assert_eq!((popo.character, popo.y), (ICE_CLIMBERS, 8.0));
        let nana = back.players.iter().find(|p| p.follower).unwrap();
        assert_eq!((nana.port, nana.character, nana.x), (1, ICE_CLIMBERS, 3.0));
    }

    #[test]
    fn percent_is_floored_and_the_row_has_the_umi_order() {
        let mut frame = game();
        frame.players[2].percent = 41.9;
        let bytes = write(&frame, 3).unwrap();
        let at = PLAYERS_AT + 12;
        assert_eq!(u16::from_le_bytes([bytes[at], bytes[at + 1]]), 41);
        let row = ctrl_row(&frame.players[2].controller);
        assert_eq!(&row[..5], &[0.25, 0.5, 0.5, 0.5, 0.75]);
        assert_eq!(&row[5..], &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn unplayable_values_are_refused_by_name() {
        let mut empty = Frame {
            frame: 0,
            stage: 0,
            stage_state: StageState::NONE,
            players: Vec::new(),
        };
        let mut bytes = write(&game(), 3).unwrap();
        bytes[PLAYERS_AT + 1] = 0x40;
        let err = read(&bytes, 3, &mut empty).unwrap_err();
        assert!(err.0.contains("character id 64"), "{err:?}");
        let mut bytes = write(&game(), 3).unwrap();
        bytes[PLAYERS_AT + 18..PLAYERS_AT + 22].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(read(&bytes, 3, &mut empty).is_err());
        let mut bytes = write(&game(), 3).unwrap();
        bytes[4] = 0x33;
        assert!(read(&bytes, 3, &mut empty).unwrap_err().0.contains("stage"));
    }
}
