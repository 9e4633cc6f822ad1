//! Why a message was refused: a typed [`DecodeError`] for the code that
//! reads bytes, and the numeric [`ErrorCode`] the peer receives.

use thiserror::Error;

/// The error codes carried by [`crate::ErrorMessage`]. Numbers are part of
/// the wire format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ErrorCode {
    /// The payload is not a valid message.
    Malformed = 1,
    /// The length prefix is over [`crate::MAX_MESSAGE_BYTES`].
    TooLarge = 2,
    /// The `Hello` carries another protocol version or a wrong magic.
    UnsupportedVersion = 3,
    /// A message that needs the handshake came before it, or a second `Hello`.
    OutOfOrder = 4,
    /// A port outside 1 to 4, a frame missing a controlled port, or a
    /// duplicated port.
    UnknownPort = 5,
    /// A NaN or infinite float, or an analog value outside its range.
    InvalidValue = 6,
    /// A character or stage id, a player count or button bits outside its range.
    OutOfRange = 7,
    /// The handshake names a model the daemon does not have.
    UnknownModel = 8,
    /// The peer closed the connection in the middle of a message.
    Truncated = 9,
    /// The daemon is at its connection limit.
    Busy = 10,
    /// The daemon is shutting down.
    ShuttingDown = 11,
    /// A bug or resource failure inside the daemon.
    Internal = 12,
    /// The handshake asks for something the daemon cannot do: a budget of
    /// 0, or a player name the model does not offer.
    BadHandshake = 13,
    /// The daemon asks for a token and the `Hello` carries none, or
    /// another one.
    Unauthorized = 14,
    /// The session sent no message for the daemon's idle timeout.
    Idle = 15,
}

impl ErrorCode {
    pub fn from_u16(code: u16) -> Option<ErrorCode> {
        use ErrorCode::*;
        Some(match code {
            1 => Malformed,
            2 => TooLarge,
            3 => UnsupportedVersion,
            4 => OutOfOrder,
            5 => UnknownPort,
            6 => InvalidValue,
            7 => OutOfRange,
            8 => UnknownModel,
            9 => Truncated,
            10 => Busy,
            11 => ShuttingDown,
            12 => Internal,
            13 => BadHandshake,
            14 => Unauthorized,
            15 => Idle,
            _ => return None,
        })
    }

    /// The code's name in snake case, as logs and metrics label it.
    pub fn name(self) -> &'static str {
        use ErrorCode::*;
        match self {
            Malformed => "malformed",
            TooLarge => "too_large",
            UnsupportedVersion => "unsupported_version",
            OutOfOrder => "out_of_order",
            UnknownPort => "unknown_port",
            InvalidValue => "invalid_value",
            OutOfRange => "out_of_range",
            UnknownModel => "unknown_model",
            Truncated => "truncated",
            Busy => "busy",
            ShuttingDown => "shutting_down",
            Internal => "internal",
            BadHandshake => "bad_handshake",
            Unauthorized => "unauthorized",
            Idle => "idle",
        }
    }
}

/// Why bytes could not become a valid message.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum DecodeError {
    #[error("message of {len} bytes is over the {max}-byte limit")]
    TooLarge { len: u32, max: u32 },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("{trailing} unexpected bytes after the message")]
    Trailing { trailing: usize },
    #[error("connection closed {got} bytes into a {expected}-byte message")]
    Truncated { got: usize, expected: usize },
    #[error("bad magic {0:?}: not a fourstock client")]
    BadMagic([u8; 4]),
    #[error("protocol version {got} is not supported (this daemon speaks {supported})")]
    UnsupportedVersion { got: u16, supported: u16 },
    #[error("{what} is {value}, outside {range}")]
    OutOfRange {
        what: String,
        value: i64,
        range: &'static str,
    },
    #[error("{what} is {value}, not a usable number")]
    InvalidValue { what: String, value: f32 },
    #[error("{0}")]
    Port(String),
}

impl DecodeError {
    /// The code the peer receives for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge { .. } => ErrorCode::TooLarge,
            DecodeError::Malformed(_) | DecodeError::Trailing { .. } => ErrorCode::Malformed,
            DecodeError::Truncated { .. } => ErrorCode::Truncated,
            DecodeError::BadMagic(_) | DecodeError::UnsupportedVersion { .. } => {
                ErrorCode::UnsupportedVersion
            }
            DecodeError::OutOfRange { .. } => ErrorCode::OutOfRange,
            DecodeError::InvalidValue { .. } => ErrorCode::InvalidValue,
            DecodeError::Port(_) => ErrorCode::UnknownPort,
        }
    }
}
