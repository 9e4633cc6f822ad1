//! The sample messages behind the golden vectors in `proto/golden/`, shared by
//! the integration tests. `proto/python/test_wire.py` builds the same values.
//!
//! Every float here is exactly representable as an `f32` (a small multiple of
//! a power of two), so a client in any language that writes the same decimal
//! literal gets the same bits.

#![allow(dead_code)]

use fourstock_proto::{
    Buttons, ControllerState, ErrorMessage, Frame, FrameReply, Hello, MatchEnd, MatchStart,
    PlayerFrame, PlayerInfo, PortAssignment, PortOutput, PortRequest, StageState, MAGIC,
    PROTOCOL_VERSION,
};

/// Melee external character ids used by the samples.
pub const FOX: u8 = 2;
pub const ICE_CLIMBERS: u8 = 14;
/// Slippi's stage ids for Battlefield and Yoshi's Story.
pub const BATTLEFIELD: u16 = 31;
pub const YOSHIS_STORY: u16 = 8;
/// A player name in the sample slippi-ai model's name map.
pub const PLAYER_NAME: &str = "Diamond Player";

/// The shared secret the sample Hello carries.
pub const TOKEN: &str = "ladder-secret";

pub fn hello() -> Hello {
    Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        token: Some(TOKEN.into()),
        ports: vec![
            PortRequest {
                port: 1,
                character: FOX,
                model: Some("phillip".into()),
                player_name: Some(PLAYER_NAME.into()),
            },
            PortRequest {
                port: 2,
                character: ICE_CLIMBERS,
                model: None,
                player_name: None,
            },
        ],
        budget_us: Some(3500),
    }
}

pub fn welcome() -> fourstock_proto::Welcome {
    fourstock_proto::Welcome {
        version: PROTOCOL_VERSION,
        budget_us: 3500,
        ports: vec![
            PortAssignment {
                port: 1,
                model: "phillip".into(),
                cell: "tx_like".into(),
                input_size: 1009,
                hidden_sizes: vec![512, 512],
                delay: 18,
                reason: "requested by the client".into(),
                reset_on_stock_loss: false,
                reset_on_new_match: true,
                player_name: Some(PLAYER_NAME.into()),
            },
            PortAssignment {
                port: 2,
                model: "ics-gru".into(),
                cell: "gru".into(),
                input_size: 1049,
                hidden_sizes: vec![256],
                delay: 2,
                reason: "ics-gru is made for character 14".into(),
                reset_on_stock_loss: true,
                reset_on_new_match: true,
                player_name: None,
            },
        ],
    }
}

pub fn match_start() -> MatchStart {
    MatchStart {
        stage: BATTLEFIELD,
        players: vec![
            PlayerInfo {
                port: 1,
                character: FOX,
            },
            PlayerInfo {
                port: 2,
                character: ICE_CLIMBERS,
            },
        ],
    }
}

/// Frame 1234 on Yoshi's Story, Randall under the left ledge: Fox (port 1)
/// dashing right and holding the stick right with B pressed; Popo (port 2)
/// in the air drifting left with Nana (port 2, follower) on the ground
/// behind him.
pub fn frame() -> Frame {
    Frame {
        frame: 1234,
        stage: YOSHIS_STORY,
        stage_state: StageState {
            randall: [-39.5, -33.25],
            fod_platforms: [0.0, 0.0],
        },
        players: vec![
            PlayerFrame {
                port: 1,
                follower: false,
                character: FOX,
                action_state: 20, // Dash
                action_frame: 3.0,
                x: -42.5,
                y: 0.0,
                facing_right: true,
                percent: 37.0,
                stocks: 4,
                shield: 60.0,
                jumps_left: 2,
                on_ground: true,
                invulnerable: false,
                hitlag_left: 0.0,
                hitstun_left: 0.0,
                speed_air_x_self: 0.0,
                speed_ground_x_self: 2.125,
                speed_y_self: 0.0,
                speed_x_attack: 0.0,
                speed_y_attack: 0.0,
                controller: ControllerState {
                    buttons: Buttons(Buttons::B),
                    main_x: 1.0,
                    main_y: 0.5,
                    c_x: 0.5,
                    c_y: 0.5,
                    l_trigger: 0.0,
                    r_trigger: 0.0,
                },
            },
            PlayerFrame {
                port: 2,
                follower: false,
                character: ICE_CLIMBERS,
                action_state: 29, // Fall
                action_frame: 11.0,
                x: 18.75,
                y: 24.5,
                facing_right: false,
                percent: 112.5,
                stocks: 3,
                shield: 47.25,
                jumps_left: 1,
                on_ground: false,
                invulnerable: false,
                hitlag_left: 0.0,
                hitstun_left: 6.0,
                speed_air_x_self: -0.75,
                speed_ground_x_self: 0.0,
                speed_y_self: -1.5,
                speed_x_attack: 1.25,
                speed_y_attack: -0.5,
                controller: ControllerState {
                    buttons: Buttons(Buttons::L | Buttons::D_LEFT),
                    main_x: 0.125,
                    main_y: 0.5,
                    c_x: 0.5,
                    c_y: 0.875,
                    l_trigger: 1.0,
                    r_trigger: 0.3125,
                },
            },
            PlayerFrame {
                port: 2,
                follower: true,
                character: ICE_CLIMBERS,
                action_state: 14, // Wait
                action_frame: 1.0,
                x: 26.0,
                y: 0.0,
                facing_right: false,
                percent: 64.0,
                stocks: 3,
                shield: 60.0,
                jumps_left: 2,
                on_ground: true,
                invulnerable: true,
                hitlag_left: 4.0,
                hitstun_left: 0.0,
                speed_air_x_self: 0.0,
                speed_ground_x_self: 0.0,
                speed_y_self: 0.0,
                speed_x_attack: 0.0,
                speed_y_attack: 0.0,
                controller: ControllerState::NEUTRAL,
            },
        ],
    }
}

pub fn match_end() -> MatchEnd {
    MatchEnd {
        frame: 7382,
        method: 2,
    }
}

/// The reply to frame 1234, sent late (inference missed the budget, so both
/// ports carry the fallback: the last controller each was sent). Port 2's
/// recurrent state was reset on this frame; port 1's was not.
pub fn reply() -> FrameReply {
    FrameReply {
        frame: 1234,
        outputs: vec![
            PortOutput {
                port: 1,
                controller: ControllerState {
                    buttons: Buttons(Buttons::A | Buttons::Z),
                    main_x: 0.75,
                    main_y: 0.25,
                    c_x: 0.5,
                    c_y: 0.5,
                    l_trigger: 0.0,
                    r_trigger: 0.5,
                },
                fallback: true,
                reset: false,
                server_us: 1503,
            },
            PortOutput {
                port: 2,
                controller: ControllerState::NEUTRAL,
                fallback: true,
                reset: true,
                server_us: 1503,
            },
        ],
    }
}

pub fn error() -> ErrorMessage {
    ErrorMessage {
        code: fourstock_proto::ErrorCode::InvalidValue as u16,
        message: "port 2 x is NaN, not a usable number".into(),
    }
}
