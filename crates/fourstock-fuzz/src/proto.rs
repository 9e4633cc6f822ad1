//! The daemon's read path for a client's bytes: the length-prefixed
//! framing ([`MessageDecoder::next_payload`], then `at_eof`), and each
//! payload through [`decode_client`], which validates
//! ([`validate::client_message`]). The whole input is also decoded as one
//! bare payload, so the mutator reaches the decoder without having to keep
//! a length prefix right.
//!
//! What decodes must survive the trip back: encoded again it decodes to
//! the same message and passes validation again.

use bytes::BytesMut;
use fourstock_proto::{decode_client, encode_client, validate, MessageDecoder};

/// One client's stream, and the input as one payload.
pub fn client(data: &[u8]) {
    payload(data);
    let decoder = MessageDecoder::new();
    let mut buf = BytesMut::from(data);
    loop {
        match decoder.next_payload(&mut buf) {
            Ok(Some(p)) => payload(&p),
            Ok(None) => {
                let _ = decoder.at_eof(&buf);
                break;
            }
            Err(_) => break,
        }
    }
}

fn payload(p: &[u8]) {
    let Ok(message) = decode_client(p) else {
        return;
    };
    validate::client_message(&message).expect("a decoded message passes validation");
    let wire = encode_client(&message);
    let again = decode_client(&wire[4..]).expect("an encoded message decodes");
    assert_eq!(again, message, "a message survives encode and decode");
}
