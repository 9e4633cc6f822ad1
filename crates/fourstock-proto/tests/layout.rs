//! Pins the bincode layout that `proto/PROTOCOL.md` describes: each claim in
//! its "Encoding rules" section is checked here by encoding values and
//! looking at the bytes, and whole messages are rebuilt by hand, field by
//! field, the way a client using only `struct.pack` would.

mod common;

use fourstock_proto::{
    encode_client, encode_server, Buttons, ClientMessage, ControllerState, PlayerFrame, PlayerInfo,
    PortOutput, ServerMessage, StageState,
};

/// The protocol's bincode configuration, as in `codec.rs`.
fn bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let config = bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding();
    bincode::serde::encode_to_vec(value, config).unwrap()
}

/// The payload of an encoded message, after checking its length prefix.
fn payload(wire: &[u8]) -> &[u8] {
    let len = u32::from_le_bytes(wire[..4].try_into().unwrap()) as usize;
    assert_eq!(len, wire.len() - 4, "the prefix counts the payload only");
    &wire[4..]
}

#[test]
fn integers_are_fixed_width_little_endian() {
    assert_eq!(bytes(&0xABu8), [0xAB]);
    assert_eq!(bytes(&0x0102u16), [0x02, 0x01]);
    assert_eq!(bytes(&0x0102_0304u32), [0x04, 0x03, 0x02, 0x01]);
    assert_eq!(bytes(&-123i32), [0x85, 0xFF, 0xFF, 0xFF]);
    // Small values are not varint-shortened.
    assert_eq!(bytes(&1u32), [1, 0, 0, 0]);
    assert_eq!(bytes(&300u16), [0x2C, 0x01]);
}

#[test]
fn bools_are_one_byte() {
    assert_eq!(bytes(&false), [0]);
    assert_eq!(bytes(&true), [1]);
}

#[test]
fn floats_are_ieee_little_endian() {
    assert_eq!(bytes(&0.5f32), 0.5f32.to_le_bytes());
    assert_eq!(bytes(&0.5f32), [0x00, 0x00, 0x00, 0x3F]);
    assert_eq!(bytes(&-42.5f32), [0x00, 0x00, 0x2A, 0xC2]);
    assert_eq!(bytes(&1.0f32), [0x00, 0x00, 0x80, 0x3F]);
}

#[test]
fn strings_and_vecs_carry_a_u64_length() {
    assert_eq!(bytes(&String::new()), [0; 8]);
    assert_eq!(
        bytes(&"gru".to_string()),
        [3, 0, 0, 0, 0, 0, 0, 0, b'g', b'r', b'u']
    );
    // The length counts UTF-8 bytes, not characters.
    assert_eq!(
        &bytes(&"é".to_string())[..9],
        [2, 0, 0, 0, 0, 0, 0, 0, 0xC3]
    );
    assert_eq!(bytes(&Vec::<u32>::new()), [0; 8]);
    assert_eq!(
        bytes(&vec![128u32, 256]),
        [2, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 0, 1, 0, 0]
    );
}

#[test]
fn options_are_a_tag_byte_then_the_value() {
    assert_eq!(bytes(&None::<u32>), [0]);
    assert_eq!(bytes(&Some(3500u32)), [1, 0xAC, 0x0D, 0, 0]);
    assert_eq!(
        bytes(&Some("a".to_string())),
        [1, 1, 0, 0, 0, 0, 0, 0, 0, b'a']
    );
}

#[test]
fn fixed_arrays_are_raw_bytes_without_a_length() {
    assert_eq!(bytes(b"4STK"), [0x34, 0x53, 0x54, 0x4B]);
    assert_eq!(
        bytes(&[0.5f32, 1.0]),
        [0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x80, 0x3F]
    );
}

#[test]
fn structs_are_fields_in_order_without_padding() {
    assert_eq!(
        bytes(&PlayerInfo {
            port: 2,
            character: 14
        }),
        [2, 14]
    );
    // Buttons is a transparent u16.
    assert_eq!(bytes(&Buttons(Buttons::A | Buttons::D_RIGHT)), [0x01, 0x08]);
    let controller = bytes(&ControllerState::NEUTRAL);
    assert_eq!(controller.len(), 2 + 6 * 4);
    let mut expected = vec![0, 0];
    for v in [0.5f32, 0.5, 0.5, 0.5, 0.0, 0.0] {
        expected.extend(v.to_le_bytes());
    }
    assert_eq!(controller, expected);
    let output = PortOutput {
        port: 3,
        controller: ControllerState::NEUTRAL,
        fallback: true,
        reset: false,
        server_us: 0x0102_0304,
    };
    let out = bytes(&output);
    assert_eq!(out.len(), 33);
    assert_eq!(out[0], 3);
    assert_eq!(&out[1..27], &expected[..]);
    assert_eq!(&out[27..], [1, 0, 4, 3, 2, 1]);
}

#[test]
fn stage_state_is_four_floats_between_the_stage_and_the_players() {
    let state = StageState {
        randall: [-39.5, -33.25],
        fod_platforms: [20.0, 28.0],
    };
    let mut expected = Vec::new();
    for v in [-39.5f32, -33.25, 20.0, 28.0] {
        expected.extend(v.to_le_bytes());
    }
    assert_eq!(bytes(&state), expected);
    let mut frame = common::frame();
    frame.stage_state = state;
    let wire = encode_client(&ClientMessage::Frame(frame));
    let p = payload(&wire);
    // tag 4, frame 4, stage 2, then the 16 bytes, then the players' length.
    assert_eq!(&p[10..26], &expected[..]);
    assert_eq!(p[26..34], 3u64.to_le_bytes());
}

#[test]
fn player_frame_is_84_bytes() {
    let player: PlayerFrame = common::frame().players[0].clone();
    assert_eq!(bytes(&player).len(), 84);
}

#[test]
fn enum_variants_are_u32_tags_in_declaration_order() {
    let client = [
        ClientMessage::Hello(common::hello()),
        ClientMessage::MatchStart(common::match_start()),
        ClientMessage::Frame(common::frame()),
        ClientMessage::MatchEnd(common::match_end()),
    ];
    for (tag, message) in client.iter().enumerate() {
        let wire = encode_client(message);
        assert_eq!(
            payload(&wire)[..4],
            (tag as u32).to_le_bytes(),
            "{message:?}"
        );
    }
    let server = [
        ServerMessage::Welcome(common::welcome()),
        ServerMessage::Reply(common::reply()),
        ServerMessage::Error(common::error()),
    ];
    for (tag, message) in server.iter().enumerate() {
        let wire = encode_server(message);
        assert_eq!(
            payload(&wire)[..4],
            (tag as u32).to_le_bytes(),
            "{message:?}"
        );
    }
}

/// A tiny `struct.pack`: appends little-endian fields.
#[derive(Default)]
struct Pack(Vec<u8>);

impl Pack {
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u16(mut self, v: u16) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn f32(mut self, v: f32) -> Self {
        self.0.extend(v.to_le_bytes());
        self
    }
    fn raw(mut self, v: &[u8]) -> Self {
        self.0.extend_from_slice(v);
        self
    }
    fn str(self, s: &str) -> Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }
    fn controller(self, c: &ControllerState) -> Self {
        let mut p = self.u16(c.buttons.0);
        for v in c.analog() {
            p = p.f32(v);
        }
        p
    }
    /// Prepends the length prefix.
    fn framed(self) -> Vec<u8> {
        let mut out = (self.0.len() as u32).to_le_bytes().to_vec();
        out.extend(self.0);
        out
    }
}

#[test]
fn hello_matches_a_hand_built_layout() {
    let h = common::hello();
    let expected = Pack::default()
        .u32(0) // ClientMessage::Hello
        .raw(b"4STK")
        .u16(3)
        .u8(1) // Some(token)
        .str("ladder-secret")
        .u64(2)
        .u8(1)
        .u8(2)
        .u8(1)
        .str("phillip")
        .u8(1)
        .str("Diamond Player")
        .u8(2)
        .u8(14)
        .u8(0)
        .u8(0)
        .u8(1)
        .u32(3500)
        .framed();
    assert_eq!(encode_client(&ClientMessage::Hello(h)), expected);
}

#[test]
fn frame_matches_a_hand_built_layout() {
    let f = common::frame();
    let mut p = Pack::default()
        .u32(2) // ClientMessage::Frame
        .i32(f.frame)
        .u16(f.stage)
        .f32(f.stage_state.randall[0])
        .f32(f.stage_state.randall[1])
        .f32(f.stage_state.fod_platforms[0])
        .f32(f.stage_state.fod_platforms[1])
        .u64(f.players.len() as u64);
    for q in &f.players {
        p = p
            .u8(q.port)
            .u8(q.follower as u8)
            .u8(q.character)
            .u16(q.action_state)
            .f32(q.action_frame)
            .f32(q.x)
            .f32(q.y)
            .u8(q.facing_right as u8)
            .f32(q.percent)
            .u8(q.stocks)
            .f32(q.shield)
            .u8(q.jumps_left)
            .u8(q.on_ground as u8)
            .u8(q.invulnerable as u8)
            .f32(q.hitlag_left)
            .f32(q.hitstun_left)
            .f32(q.speed_air_x_self)
            .f32(q.speed_ground_x_self)
            .f32(q.speed_y_self)
            .f32(q.speed_x_attack)
            .f32(q.speed_y_attack)
            .controller(&q.controller);
    }
    assert_eq!(encode_client(&ClientMessage::Frame(f)), p.framed());
}

#[test]
fn server_messages_match_hand_built_layouts() {
    let w = common::welcome();
    let mut p = Pack::default()
        .u32(0)
        .u16(w.version)
        .u32(w.budget_us)
        .u64(w.ports.len() as u64);
    for a in &w.ports {
        p = p
            .u8(a.port)
            .str(&a.model)
            .str(&a.cell)
            .u32(a.input_size)
            .u64(a.hidden_sizes.len() as u64);
        for &h in &a.hidden_sizes {
            p = p.u32(h);
        }
        p = p
            .u32(a.delay)
            .str(&a.reason)
            .u8(a.reset_on_stock_loss as u8)
            .u8(a.reset_on_new_match as u8);
        p = match &a.player_name {
            None => p.u8(0),
            Some(name) => p.u8(1).str(name),
        };
    }
    assert_eq!(encode_server(&ServerMessage::Welcome(w)), p.framed());

    let r = common::reply();
    let mut p = Pack::default()
        .u32(1)
        .i32(r.frame)
        .u64(r.outputs.len() as u64);
    for o in &r.outputs {
        p = p
            .u8(o.port)
            .controller(&o.controller)
            .u8(o.fallback as u8)
            .u8(o.reset as u8)
            .u32(o.server_us);
    }
    assert_eq!(encode_server(&ServerMessage::Reply(r)), p.framed());

    let e = common::error();
    let p = Pack::default().u32(2).u16(e.code).str(&e.message);
    assert_eq!(encode_server(&ServerMessage::Error(e)), p.framed());
}

#[test]
fn match_start_and_end_match_hand_built_layouts() {
    let s = common::match_start();
    let mut p = Pack::default()
        .u32(1)
        .u16(s.stage)
        .u64(s.players.len() as u64);
    for q in &s.players {
        p = p.u8(q.port).u8(q.character);
    }
    assert_eq!(encode_client(&ClientMessage::MatchStart(s)), p.framed());

    let e = common::match_end();
    let p = Pack::default().u32(3).i32(e.frame).u8(e.method);
    assert_eq!(encode_client(&ClientMessage::MatchEnd(e)), p.framed());
}
