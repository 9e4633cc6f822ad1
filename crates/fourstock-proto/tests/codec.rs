//! Framing and decoding against partial, concatenated, oversized, truncated
//! and hostile input, and every validation rule mapped to its error code.

mod common;

use bytes::BytesMut;
use fourstock_proto::{
    decode_client, decode_server, encode_client, encode_server, Buttons, ClientMessage,
    DecodeError, ErrorCode, MessageDecoder, PlayerInfo, PortRequest, ServerMessage,
    MAX_MESSAGE_BYTES,
};

fn payload_of(message: &ClientMessage) -> Vec<u8> {
    encode_client(message)[4..].to_vec()
}

/// The code a client payload is refused with.
fn refusal(payload: &[u8]) -> ErrorCode {
    match decode_client(payload) {
        Ok(message) => panic!("accepted {message:?}"),
        Err(e) => e.code(),
    }
}

fn refusal_of(message: ClientMessage) -> ErrorCode {
    refusal(&payload_of(&message))
}

fn accepted(message: ClientMessage) {
    assert_eq!(decode_client(&payload_of(&message)).unwrap(), message);
}

fn all_client_samples() -> Vec<ClientMessage> {
    vec![
        ClientMessage::Hello(common::hello()),
        ClientMessage::MatchStart(common::match_start()),
        ClientMessage::Frame(common::frame()),
        ClientMessage::MatchEnd(common::match_end()),
    ]
}

fn all_server_samples() -> Vec<ServerMessage> {
    vec![
        ServerMessage::Welcome(common::welcome()),
        ServerMessage::Reply(common::reply()),
        ServerMessage::Error(common::error()),
    ]
}

// ---------------------------------------------------------------- framing

#[test]
fn partial_input_one_byte_at_a_time() {
    let messages = all_client_samples();
    let stream: Vec<u8> = messages.iter().flat_map(encode_client).collect();
    let ends: Vec<usize> = messages
        .iter()
        .scan(0, |end, m| {
            *end += encode_client(m).len();
            Some(*end)
        })
        .collect();
    let decoder = MessageDecoder::new();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for (i, &byte) in stream.iter().enumerate() {
        buf.extend_from_slice(&[byte]);
        match decoder.next_payload(&mut buf).unwrap() {
            Some(payload) => {
                assert_eq!(i + 1, ends[got.len()], "a payload came out early or late");
                got.push(decode_client(&payload).unwrap());
                assert!(buf.is_empty());
            }
            None => assert!(
                !ends.contains(&(i + 1)),
                "payload {} was not released",
                got.len()
            ),
        }
    }
    assert_eq!(got, messages);
    assert!(decoder.at_eof(&buf).is_none());
}

#[test]
fn several_messages_in_one_buffer() {
    let messages = all_client_samples();
    let mut buf = BytesMut::new();
    for m in &messages {
        buf.extend_from_slice(&encode_client(m));
    }
    // And the first bytes of one more.
    buf.extend_from_slice(&encode_client(&messages[0])[..7]);
    let decoder = MessageDecoder::new();
    for m in &messages {
        let payload = decoder
            .next_payload(&mut buf)
            .unwrap()
            .expect("a whole message");
        assert_eq!(&decode_client(&payload).unwrap(), m);
    }
    assert_eq!(decoder.next_payload(&mut buf).unwrap(), None);
    assert_eq!(buf.len(), 7);
    assert_eq!(
        decoder.at_eof(&buf),
        Some(DecodeError::Truncated {
            got: 7,
            expected: encode_client(&messages[0]).len()
        })
    );
}

#[test]
fn server_messages_frame_the_same_way() {
    let messages = all_server_samples();
    let mut buf = BytesMut::new();
    for m in &messages {
        buf.extend_from_slice(&encode_server(m));
    }
    let decoder = MessageDecoder::new();
    for m in &messages {
        let payload = decoder.next_payload(&mut buf).unwrap().unwrap();
        assert_eq!(&decode_server(&payload).unwrap(), m);
    }
    assert!(buf.is_empty());
}

#[test]
fn oversized_prefix_is_rejected_before_the_payload_arrives() {
    let decoder = MessageDecoder::new();
    for len in [MAX_MESSAGE_BYTES + 1, 1 << 20, u32::MAX] {
        // Only the prefix has arrived.
        let mut buf = BytesMut::from(&len.to_le_bytes()[..]);
        let err = decoder.next_payload(&mut buf).unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooLarge {
                len,
                max: MAX_MESSAGE_BYTES
            }
        );
        assert_eq!(err.code(), ErrorCode::TooLarge);
        assert!(buf.capacity() < 1024, "room was reserved for the payload");
    }
}

#[test]
fn the_largest_allowed_prefix_waits_for_its_payload() {
    let decoder = MessageDecoder::new();
    let mut buf = BytesMut::from(&MAX_MESSAGE_BYTES.to_le_bytes()[..]);
    assert_eq!(decoder.next_payload(&mut buf).unwrap(), None);
    buf.extend_from_slice(&vec![0u8; MAX_MESSAGE_BYTES as usize - 1]);
    assert_eq!(decoder.next_payload(&mut buf).unwrap(), None);
    buf.extend_from_slice(&[0]);
    let payload = decoder.next_payload(&mut buf).unwrap().unwrap();
    assert_eq!(payload.len(), MAX_MESSAGE_BYTES as usize);
    assert!(buf.is_empty());
    // 64 KiB of zeros starts like a Hello with a zero magic: refused as
    // another protocol, not a panic.
    assert_eq!(refusal(&payload), ErrorCode::UnsupportedVersion);
}

#[test]
fn a_short_prefix_waits() {
    let decoder = MessageDecoder::new();
    let mut buf = BytesMut::from(&[5u8, 0, 0][..]);
    assert_eq!(decoder.next_payload(&mut buf).unwrap(), None);
    assert_eq!(buf.len(), 3, "nothing is consumed before a whole message");
}

#[test]
fn an_empty_payload_is_framed_then_refused() {
    let decoder = MessageDecoder::new();
    let mut buf = BytesMut::from(&[0u8, 0, 0, 0][..]);
    let payload = decoder.next_payload(&mut buf).unwrap().unwrap();
    assert!(payload.is_empty());
    assert_eq!(refusal(&payload), ErrorCode::Malformed);
}

#[test]
fn at_eof_tells_clean_ends_from_truncated_ones() {
    let decoder = MessageDecoder::new();
    assert_eq!(decoder.at_eof(&BytesMut::new()), None);
    // Inside the prefix.
    let e = decoder.at_eof(&BytesMut::from(&[9u8, 0][..])).unwrap();
    assert_eq!(
        e,
        DecodeError::Truncated {
            got: 2,
            expected: 4
        }
    );
    assert_eq!(e.code(), ErrorCode::Truncated);
    // Inside the payload.
    let wire = encode_client(&ClientMessage::Frame(common::frame()));
    let mut buf = BytesMut::from(&wire[..wire.len() - 1]);
    assert_eq!(decoder.next_payload(&mut buf).unwrap(), None);
    assert_eq!(
        decoder.at_eof(&buf),
        Some(DecodeError::Truncated {
            got: wire.len() - 1,
            expected: wire.len()
        })
    );
    // Complete and consumed: a clean end.
    buf.extend_from_slice(&wire[wire.len() - 1..]);
    decoder.next_payload(&mut buf).unwrap().unwrap();
    assert_eq!(decoder.at_eof(&buf), None);
}

#[test]
fn a_default_decoder_is_a_new_one() {
    let decoder = MessageDecoder::default();
    let mut buf = BytesMut::from(&encode_client(&ClientMessage::MatchEnd(common::match_end()))[..]);
    assert!(decoder.next_payload(&mut buf).unwrap().is_some());
    let mut buf = BytesMut::from(&(MAX_MESSAGE_BYTES + 1).to_le_bytes()[..]);
    assert!(decoder.next_payload(&mut buf).is_err());
}

// ------------------------------------------------------- malformed bytes

#[test]
fn garbage_is_malformed() {
    for garbage in [
        &[][..],
        &[0xFF; 16][..],
        &[0x00][..],
        &[0x02, 0x00, 0x00][..],
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(refusal(garbage), ErrorCode::Malformed, "{garbage:?}");
        assert!(decode_server(garbage).is_err());
    }
}

#[test]
fn trailing_bytes_are_malformed() {
    for message in all_client_samples() {
        let mut payload = payload_of(&message);
        payload.extend_from_slice(&[0, 0]);
        let err = decode_client(&payload).unwrap_err();
        assert_eq!(err, DecodeError::Trailing { trailing: 2 });
        assert_eq!(err.code(), ErrorCode::Malformed);
    }
    let mut payload = encode_server(&ServerMessage::Reply(common::reply()))[4..].to_vec();
    payload.push(0);
    assert_eq!(
        decode_server(&payload),
        Err(DecodeError::Trailing { trailing: 1 })
    );
}

#[test]
fn a_payload_cut_short_is_malformed() {
    for message in all_client_samples() {
        let payload = payload_of(&message);
        for cut in 0..payload.len() {
            assert_eq!(refusal(&payload[..cut]), ErrorCode::Malformed, "{cut}");
        }
    }
    for message in all_server_samples() {
        let payload = &encode_server(&message)[4..];
        for cut in 0..payload.len() {
            assert!(decode_server(&payload[..cut]).is_err());
        }
    }
}

/// Overwrites the u64 at `at` with `len`.
fn claim(mut payload: Vec<u8>, at: usize, len: u64) -> Vec<u8> {
    payload[at..at + 8].copy_from_slice(&len.to_le_bytes());
    payload
}

#[test]
fn a_huge_length_claim_in_a_small_payload_is_malformed() {
    let hello = payload_of(&ClientMessage::Hello(common::hello()));
    let frame = payload_of(&ClientMessage::Frame(common::frame()));
    let start = payload_of(&ClientMessage::MatchStart(common::match_start()));
    for len in [1 << 20, 1 << 40, u64::MAX / 84, u64::MAX] {
        // Hello.token, after tag, magic, version and its Some tag.
        assert_eq!(
            refusal(&claim(hello.clone(), 11, len)),
            ErrorCode::Malformed
        );
        // Hello.ports, after the 13-byte token.
        assert_eq!(
            refusal(&claim(hello.clone(), 32, len)),
            ErrorCode::Malformed
        );
        // The first port's model name, after its port, character and Some tag.
        assert_eq!(
            refusal(&claim(hello.clone(), 43, len)),
            ErrorCode::Malformed
        );
        // Frame.players, after tag, frame, stage and stage state.
        assert_eq!(
            refusal(&claim(frame.clone(), 26, len)),
            ErrorCode::Malformed
        );
        // MatchStart.players, after tag and stage.
        assert_eq!(refusal(&claim(start.clone(), 6, len)), ErrorCode::Malformed);
    }
    let welcome = encode_server(&ServerMessage::Welcome(common::welcome()))[4..].to_vec();
    let error = encode_server(&ServerMessage::Error(common::error()))[4..].to_vec();
    for len in [1 << 40, u64::MAX] {
        assert!(decode_server(&claim(welcome.clone(), 10, len)).is_err());
        assert!(decode_server(&claim(error.clone(), 6, len)).is_err());
    }
}

#[test]
fn unknown_variant_tags_are_malformed() {
    let mut payload = payload_of(&ClientMessage::MatchEnd(common::match_end()));
    for tag in [4u32, 5, 0x100, u32::MAX] {
        payload[..4].copy_from_slice(&tag.to_le_bytes());
        assert_eq!(refusal(&payload), ErrorCode::Malformed, "tag {tag}");
    }
    let mut payload = encode_server(&ServerMessage::Error(common::error()))[4..].to_vec();
    payload[..4].copy_from_slice(&3u32.to_le_bytes());
    assert!(matches!(
        decode_server(&payload),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn bools_and_option_tags_must_be_zero_or_one() {
    // Frame: tag 4, frame 4, stage 2, stage state 16, len 8, then the
    // first player: port at 34, follower at 35.
    let mut frame = payload_of(&ClientMessage::Frame(common::frame()));
    assert_eq!(frame[35], 0);
    frame[35] = 2;
    assert_eq!(refusal(&frame), ErrorCode::Malformed);
    // Hello: the token's Option tag follows the version, at 10.
    let mut hello = payload_of(&ClientMessage::Hello(common::hello()));
    assert_eq!(hello[10], 1);
    hello[10] = 2;
    assert_eq!(refusal(&hello), ErrorCode::Malformed);
    // The first port's model Option tag is at 42, after the 13-byte token.
    let mut hello = payload_of(&ClientMessage::Hello(common::hello()));
    assert_eq!(hello[42], 1);
    hello[42] = 2;
    assert_eq!(refusal(&hello), ErrorCode::Malformed);
    // Its player name's Option tag follows the 7-byte model name.
    let mut hello = payload_of(&ClientMessage::Hello(common::hello()));
    assert_eq!(hello[58], 1);
    hello[58] = 2;
    assert_eq!(refusal(&hello), ErrorCode::Malformed);
}

#[test]
fn strings_must_be_utf8() {
    // The token's first byte, after its Option tag and u64 length.
    let mut hello = payload_of(&ClientMessage::Hello(common::hello()));
    assert_eq!(hello[19], b'l');
    hello[19] = 0xFF;
    assert_eq!(refusal(&hello), ErrorCode::Malformed);
    let mut hello = payload_of(&ClientMessage::Hello(common::hello()));
    // The model name's first byte, after its u64 length.
    assert_eq!(hello[51], b'p');
    hello[51] = 0xFF;
    assert_eq!(refusal(&hello), ErrorCode::Malformed);
    // The player name's first byte, after its Option tag and u64 length.
    let mut hello = payload_of(&ClientMessage::Hello(common::hello()));
    assert_eq!(hello[67], b'D');
    hello[67] = 0xFF;
    assert_eq!(refusal(&hello), ErrorCode::Malformed);
}

// ------------------------------------------------------------- validation

#[test]
fn every_sample_is_valid() {
    for message in all_client_samples() {
        accepted(message);
    }
}

#[test]
fn bad_magic_and_wrong_version_are_unsupported() {
    let mut hello = common::hello();
    hello.magic = *b"4STL";
    let err = decode_client(&payload_of(&ClientMessage::Hello(hello))).unwrap_err();
    assert_eq!(err, DecodeError::BadMagic(*b"4STL"));
    assert_eq!(err.code(), ErrorCode::UnsupportedVersion);
    // Version 1 lacked the player name and the stage state, version 2 the
    // token: refused too.
    for version in [0u16, 1, 2, 4, 0x0300, u16::MAX] {
        let mut hello = common::hello();
        hello.version = version;
        let err = decode_client(&payload_of(&ClientMessage::Hello(hello))).unwrap_err();
        assert_eq!(
            err,
            DecodeError::UnsupportedVersion {
                got: version,
                supported: 3
            }
        );
        assert_eq!(err.code(), ErrorCode::UnsupportedVersion);
    }
}

/// `proto/golden/hello.bin` as protocol version 1 had it: its ports carry
/// no player name, so the rest of it does not decode as version 2.
const VERSION_1_HELLO: &str = "000000003453544b010002000000000000000102010e00000000000000\
                               756e747261696e65642d6c73746d020e0001ac0d0000";

/// `proto/golden/hello.bin` as protocol version 2 had it: no token after
/// the version, so its port count would be read as a token's Option tag.
const VERSION_2_HELLO: &str = "000000003453544b0200020000000000000001020107000000000000007068696c\
                               6c6970010e000000000000004469616d6f6e6420506c61796572020e000001ac0d\
                               0000";

fn unhex(hex: &str) -> Vec<u8> {
    let hex: String = hex.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_version_1_hello_is_unsupported_not_malformed() {
    let v1 = unhex(VERSION_1_HELLO);
    let err = decode_client(&v1).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnsupportedVersion {
            got: 1,
            supported: 3
        }
    );
    // Even cut right after its version, or with a wrong magic.
    assert_eq!(refusal(&v1[..10]), ErrorCode::UnsupportedVersion);
    let mut bad_magic = v1.clone();
    bad_magic[4] = b'5';
    assert_eq!(
        decode_client(&bad_magic).unwrap_err(),
        DecodeError::BadMagic(*b"5STK")
    );
    // Shorter than a version: not a Hello at all.
    assert_eq!(refusal(&v1[..9]), ErrorCode::Malformed);
}

#[test]
fn a_version_2_hello_is_unsupported_not_malformed() {
    let v2 = unhex(VERSION_2_HELLO);
    assert_eq!(
        decode_client(&v2).unwrap_err(),
        DecodeError::UnsupportedVersion {
            got: 2,
            supported: 3
        }
    );
}

#[test]
fn a_token_over_256_bytes_is_out_of_range() {
    let mut hello = common::hello();
    hello.token = Some("k".repeat(fourstock_proto::MAX_TOKEN_BYTES));
    accepted(ClientMessage::Hello(hello.clone()));
    hello.token = Some("k".repeat(fourstock_proto::MAX_TOKEN_BYTES + 1));
    assert_eq!(
        refusal_of(ClientMessage::Hello(hello)),
        ErrorCode::OutOfRange
    );
    let mut hello = common::hello();
    hello.token = None;
    accepted(ClientMessage::Hello(hello));
}

#[test]
fn non_finite_floats_are_invalid_values() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for field in 0..12 {
            let mut frame = common::frame();
            let p = &mut frame.players[1];
            let slot = match field {
                0 => &mut p.action_frame,
                1 => &mut p.x,
                2 => &mut p.y,
                3 => &mut p.percent,
                4 => &mut p.shield,
                5 => &mut p.hitlag_left,
                6 => &mut p.hitstun_left,
                7 => &mut p.speed_air_x_self,
                8 => &mut p.speed_ground_x_self,
                9 => &mut p.speed_y_self,
                10 => &mut p.speed_x_attack,
                _ => &mut p.speed_y_attack,
            };
            *slot = bad;
            assert_eq!(
                refusal_of(ClientMessage::Frame(frame)),
                ErrorCode::InvalidValue,
                "field {field} = {bad}"
            );
        }
        for axis in 0..6 {
            let mut frame = common::frame();
            let c = &mut frame.players[2].controller;
            *[
                &mut c.main_x,
                &mut c.main_y,
                &mut c.c_x,
                &mut c.c_y,
                &mut c.l_trigger,
                &mut c.r_trigger,
            ][axis] = bad;
            assert_eq!(
                refusal_of(ClientMessage::Frame(frame)),
                ErrorCode::InvalidValue,
                "axis {axis} = {bad}"
            );
        }
    }
}

#[test]
fn non_finite_stage_state_is_an_invalid_value() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        for field in 0..4 {
            let mut frame = common::frame();
            let s = &mut frame.stage_state;
            let [x, y] = &mut s.randall;
            let [left, right] = &mut s.fod_platforms;
            *[x, y, left, right][field] = bad;
            let err = decode_client(&payload_of(&ClientMessage::Frame(frame))).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidValue, "field {field} = {bad}");
            let name = [
                "randall x",
                "randall y",
                "fod_platforms left",
                "fod_platforms right",
            ];
            assert!(
                err.to_string().contains(name[field]),
                "the error names the field: {err}"
            );
        }
    }
    // Any finite value passes, on any stage: the daemon does not check the
    // stage state against the stage.
    let mut frame = common::frame();
    frame.stage_state.fod_platforms = [f32::MAX, -0.0];
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn extreme_finite_floats_are_accepted_outside_the_controller() {
    let mut frame = common::frame();
    frame.players[0].x = f32::MAX;
    frame.players[0].y = f32::MIN;
    frame.players[0].percent = -0.0;
    frame.players[0].speed_y_self = f32::MIN_POSITIVE / 2.0; // subnormal
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn analog_values_must_lie_in_zero_to_one() {
    for bad in [-0.001f32, 1.001, -1.0, 2.0, 127.0] {
        for axis in 0..6 {
            let mut frame = common::frame();
            let c = &mut frame.players[0].controller;
            *[
                &mut c.main_x,
                &mut c.main_y,
                &mut c.c_x,
                &mut c.c_y,
                &mut c.l_trigger,
                &mut c.r_trigger,
            ][axis] = bad;
            assert_eq!(
                refusal_of(ClientMessage::Frame(frame)),
                ErrorCode::InvalidValue,
                "axis {axis} = {bad}"
            );
        }
    }
    let mut frame = common::frame();
    let c = &mut frame.players[0].controller;
    (c.main_x, c.main_y, c.c_x, c.c_y, c.l_trigger, c.r_trigger) = (0.0, 1.0, 0.0, 1.0, 0.0, 1.0);
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn unknown_button_bits_are_out_of_range() {
    for bits in [1u16 << 12, 1 << 15, 0xF000, 0xFFFF] {
        let mut frame = common::frame();
        frame.players[1].controller.buttons = Buttons(bits);
        assert_eq!(
            refusal_of(ClientMessage::Frame(frame)),
            ErrorCode::OutOfRange,
            "{bits:#06x}"
        );
    }
    let mut frame = common::frame();
    frame.players[1].controller.buttons = Buttons(Buttons::ALL);
    assert_eq!(Buttons::ALL, 0x0FFF);
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn ports_outside_one_to_four_are_unknown() {
    for port in [0u8, 5, 255] {
        let mut hello = common::hello();
        hello.ports[1].port = port;
        assert_eq!(
            refusal_of(ClientMessage::Hello(hello)),
            ErrorCode::UnknownPort
        );

        let mut start = common::match_start();
        start.players[0].port = port;
        assert_eq!(
            refusal_of(ClientMessage::MatchStart(start)),
            ErrorCode::UnknownPort
        );

        let mut frame = common::frame();
        frame.players[2].port = port;
        assert_eq!(
            refusal_of(ClientMessage::Frame(frame)),
            ErrorCode::UnknownPort
        );
    }
    for port in 1..=4u8 {
        let mut hello = common::hello();
        hello.ports.truncate(1);
        hello.ports[0].port = port;
        accepted(ClientMessage::Hello(hello));
    }
}

#[test]
fn character_33_is_out_of_range() {
    for character in [33u8, 34, 255] {
        let mut hello = common::hello();
        hello.ports[0].character = character;
        assert_eq!(
            refusal_of(ClientMessage::Hello(hello)),
            ErrorCode::OutOfRange
        );

        let mut start = common::match_start();
        start.players[1].character = character;
        assert_eq!(
            refusal_of(ClientMessage::MatchStart(start)),
            ErrorCode::OutOfRange
        );

        let mut frame = common::frame();
        frame.players[0].character = character;
        assert_eq!(
            refusal_of(ClientMessage::Frame(frame)),
            ErrorCode::OutOfRange
        );
    }
    let mut frame = common::frame();
    frame.players[0].character = 32;
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn stage_64_is_out_of_range() {
    for stage in [64u16, 65, 0xFFFF] {
        let mut start = common::match_start();
        start.stage = stage;
        assert_eq!(
            refusal_of(ClientMessage::MatchStart(start)),
            ErrorCode::OutOfRange
        );
        let mut frame = common::frame();
        frame.stage = stage;
        assert_eq!(
            refusal_of(ClientMessage::Frame(frame)),
            ErrorCode::OutOfRange
        );
    }
    let mut frame = common::frame();
    frame.stage = 63;
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn duplicated_ports_are_refused() {
    let mut hello = common::hello();
    hello.ports[1].port = 1;
    assert_eq!(
        refusal_of(ClientMessage::Hello(hello)),
        ErrorCode::UnknownPort
    );

    // Two leaders on port 2.
    let mut frame = common::frame();
    frame.players[2].follower = false;
    assert_eq!(
        refusal_of(ClientMessage::Frame(frame)),
        ErrorCode::UnknownPort
    );
    // Two followers on port 2.
    let mut frame = common::frame();
    frame.players[1].follower = true;
    assert_eq!(
        refusal_of(ClientMessage::Frame(frame)),
        ErrorCode::UnknownPort
    );

    let mut start = common::match_start();
    start.players.push(PlayerInfo {
        port: 1,
        character: 9,
    });
    assert_eq!(
        refusal_of(ClientMessage::MatchStart(start)),
        ErrorCode::UnknownPort
    );
}

#[test]
fn a_leader_and_a_follower_may_share_a_port() {
    let frame = common::frame();
    assert_eq!(frame.players[1].port, frame.players[2].port);
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn a_handshake_must_name_a_port() {
    let mut hello = common::hello();
    hello.ports.clear();
    assert_eq!(
        refusal_of(ClientMessage::Hello(hello)),
        ErrorCode::UnknownPort
    );
}

#[test]
fn more_than_eight_players_are_out_of_range() {
    // Nine distinct (port, follower) pairs are impossible, so the count check
    // is what fires, before the duplicate check.
    let mut frame = common::frame();
    let p = frame.players[0].clone();
    frame.players = (0..9).map(|_| p.clone()).collect();
    assert_eq!(
        refusal_of(ClientMessage::Frame(frame)),
        ErrorCode::OutOfRange
    );

    let mut start = common::match_start();
    start.players = (1..=9)
        .map(|i| PlayerInfo {
            port: (i - 1) % 4 + 1,
            character: 0,
        })
        .collect();
    assert_eq!(
        refusal_of(ClientMessage::MatchStart(start)),
        ErrorCode::OutOfRange
    );

    // Eight (four leaders, four followers) is fine.
    let mut frame = common::frame();
    frame.players = (0..8)
        .map(|i| {
            let mut q = p.clone();
            q.port = i % 4 + 1;
            q.follower = i >= 4;
            q
        })
        .collect();
    accepted(ClientMessage::Frame(frame));
}

#[test]
fn match_end_and_frame_numbers_are_not_range_checked() {
    for frame in [i32::MIN, -123, 0, i32::MAX] {
        for method in [0u8, 1, 2, 7, 255] {
            accepted(ClientMessage::MatchEnd(fourstock_proto::MatchEnd {
                frame,
                method,
            }));
        }
        let mut f = common::frame();
        f.frame = frame;
        accepted(ClientMessage::Frame(f));
    }
}

#[test]
fn model_and_player_names_may_be_any_utf8() {
    let mut hello = common::hello();
    hello.ports[0] = PortRequest {
        port: 3,
        character: 0,
        model: Some("falcon-ü-🦅".into()),
        player_name: Some("Ｐlayer 1 ✨".into()),
    };
    accepted(ClientMessage::Hello(hello));
}

#[test]
fn every_error_code_round_trips_through_its_number() {
    for n in 0..=20u16 {
        match ErrorCode::from_u16(n) {
            Some(code) => assert_eq!(code as u16, n),
            None => assert!(n == 0 || n > 15, "{n}"),
        }
    }
}

// ----------------------------------------------------- property-style fuzz

/// xorshift64*, fixed seed: the same bytes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_bytes_never_panic_the_decoders() {
    let mut rng = Rng(0x4573_544B_0000_0001);
    for _ in 0..20_000 {
        let len = rng.below(400);
        let mut bytes = rng.bytes(len);
        // Give a fair share a valid variant tag, so decoding gets past it.
        if len >= 4 && rng.below(2) == 0 {
            bytes[..4].copy_from_slice(&(rng.below(4) as u32).to_le_bytes());
            bytes[1..4].fill(0);
        }
        let _ = decode_client(&bytes);
        let _ = decode_server(&bytes);
    }
}

#[test]
fn mutated_valid_messages_never_panic_the_decoders() {
    let mut rng = Rng(0x0DDB_A11C_0FFE_E123);
    let client: Vec<Vec<u8>> = all_client_samples().iter().map(payload_of).collect();
    let server: Vec<Vec<u8>> = all_server_samples()
        .iter()
        .map(|m| encode_server(m)[4..].to_vec())
        .collect();
    let mut refused = 0;
    for round in 0..20_000 {
        let source = if round % 2 == 0 { &client } else { &server };
        let mut bytes = source[rng.below(source.len())].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(4) {
                0 => bytes[at] = rng.next() as u8,
                1 => bytes[at] ^= 1 << rng.below(8),
                2 => bytes.truncate(at),
                _ => bytes.insert(at, rng.next() as u8),
            }
            if bytes.is_empty() {
                break;
            }
        }
        if decode_client(&bytes).is_err() {
            refused += 1;
        }
        let _ = decode_server(&bytes);
    }
    assert!(refused > 10_000, "the mutations barely changed anything");
}

#[test]
fn random_streams_never_panic_the_framer() {
    let mut rng = Rng(0xF4A3_E5DE_C0DE_0042);
    let decoder = MessageDecoder::new();
    for _ in 0..2_000 {
        let mut buf = BytesMut::new();
        for _ in 0..8 {
            // Mostly small prefixes, so whole payloads come out.
            let len = rng.below(64);
            let mut chunk = rng.bytes(len);
            if chunk.len() >= 4 && rng.below(2) == 0 {
                chunk[2] = 0;
                chunk[3] = 0;
            }
            buf.extend_from_slice(&chunk);
            loop {
                match decoder.next_payload(&mut buf) {
                    Ok(Some(payload)) => {
                        let _ = decode_client(&payload);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert_eq!(e.code(), ErrorCode::TooLarge);
                        buf.clear();
                        break;
                    }
                }
            }
        }
        let _ = decoder.at_eof(&buf);
    }
}
