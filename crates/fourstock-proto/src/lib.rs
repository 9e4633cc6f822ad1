//! The fourstock wire protocol.
//!
//! An emulator-side client and the daemon exchange length-prefixed messages
//! over TCP. Each message is a little-endian `u32` payload length followed by
//! the payload, a [`ClientMessage`] or a [`ServerMessage`] serialized with
//! bincode (fixed-width little-endian integers). `proto/PROTOCOL.md` describes
//! every byte; the golden vectors in `proto/golden/` pin the layout.
//!
//! This crate owns the message types ([`message`]), the controller layout
//! ([`controller`]), encoding and framing ([`codec`]), the checks every
//! decoded message must pass ([`validate`]) and the error codes sent to a
//! peer ([`error`]), how a token file is read ([`token`]), and how any file from outside is
//! read under a size cap ([`file`]). [`melee`] holds Melee's id tables for every crate.

pub mod codec;
pub mod controller;
pub mod error;
pub mod file;
pub mod melee;
pub mod message;
pub mod token;
pub mod validate;

pub use codec::{
    decode_client, decode_server, encode_client, encode_server, encode_server_into, MessageDecoder,
};
pub use controller::{Buttons, ControllerState};
pub use error::{DecodeError, ErrorCode};
pub use message::*;

/// The protocol version this build speaks. A client's `Hello` must carry it.
pub const PROTOCOL_VERSION: u16 = 3;

/// The four bytes every `Hello` starts with.
pub const MAGIC: [u8; 4] = *b"4STK";

/// The largest payload either side accepts, checked against the length
/// prefix before anything is allocated.
pub const MAX_MESSAGE_BYTES: u32 = 64 * 1024;

/// The longest token a `Hello` may carry, in bytes.
pub const MAX_TOKEN_BYTES: usize = 256;

/// Melee's first frame number: the countdown starts at -123.
pub const FIRST_FRAME: i32 = -123;
