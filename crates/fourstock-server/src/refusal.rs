//! Why a session ends early: the error code and the readable text the
//! client is sent before the connection closes.

use fourstock_proto::{DecodeError, ErrorCode};

use crate::connection::ReadError;

pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

impl From<DecodeError> for Refusal {
    fn from(error: DecodeError) -> Refusal {
        Refusal::new(error.code(), error.to_string())
    }
}

impl From<ReadError> for Refusal {
    fn from(error: ReadError) -> Refusal {
        match error {
            ReadError::Decode(e) => e.into(),
            ReadError::Io(e) => Refusal::new(ErrorCode::Truncated, format!("read failed: {e}")),
        }
    }
}
