//! What can go wrong talking to the daemon, as one enum, so a caller can
//! tell a refusal (with the daemon's own code and text) from a broken
//! socket, a garbled reply or a reply out of turn.

use std::net::SocketAddr;

use fourstock_proto::{DecodeError, ErrorCode, ServerMessage};

/// Why a call on a [`crate::Client`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The daemon could not be reached.
    #[error("connecting to the daemon at {addr}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// Reading from or writing to the socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The daemon's bytes are not a valid message, or it closed the
    /// connection in the middle of one.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The daemon closed the connection between messages.
    #[error("the daemon closed the connection")]
    Closed,
    /// The daemon sent an Error message: `code` is an [`ErrorCode`] as a
    /// number, `message` its text.
    #[error("the daemon refused: {}: {message}", code_name(*.code))]
    Refused { code: u16, message: String },
    /// The daemon sent a valid message, but not the one the protocol asks
    /// for at this point.
    #[error("expected {expected}, got {got:?}")]
    Unexpected {
        expected: &'static str,
        got: Box<ServerMessage>,
    },
}

/// An error code's name, or its number if this build does not know it.
fn code_name(code: u16) -> String {
    ErrorCode::from_u16(code).map_or_else(|| code.to_string(), |c| format!("{c:?}"))
}
