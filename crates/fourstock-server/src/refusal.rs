//! Why a session ends early: the error code and the readable text the
//! client is sent before the connection closes, and the daemon logs. The
//! text may quote the peer (a model name it asked for, say), so it is cut
//! to [`MAX_ERROR_TEXT`] bytes here, once for both.

use fourstock_proto::{DecodeError, ErrorCode};

#[cfg(doc)]
use crate::connection::MAX_ERROR_TEXT;
use crate::connection::{cap_text, ReadError};

pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: cap_text(message.into()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::MAX_ERROR_TEXT;

    #[test]
    fn a_refusal_quoting_a_huge_name_is_cut() {
        let name = "é".repeat(30_000);
        let refusal = Refusal::new(ErrorCode::UnknownModel, format!("no model named {name}"));
        assert!(refusal.message.len() <= MAX_ERROR_TEXT + 3);
        assert!(refusal.message.starts_with("no model named é"));
        assert!(refusal.message.ends_with("..."));
        let short = Refusal::new(ErrorCode::UnknownModel, "no model named falco");
        assert_eq!(short.message, "no model named falco");
    }
}
