//! The bot's side of the socket that every thread writes to, and the one
//! failure that ends the session.
//!
//! Each lane encodes its `act` itself and writes it whole under a lock, so
//! replies never interleave. The first failure, from the reader or from a
//! lane, is kept, reported to the arena as an `error` message, and ends the
//! session: the socket is shut down, which wakes a reader blocked on it.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use serde::Serialize;

use crate::error::UmiError;
use crate::message::{self, ErrorReport};
use crate::wire;

pub struct Outbox {
    stream: Mutex<UnixStream>,
    failure: Mutex<Option<UmiError>>,
}

impl Outbox {
    pub fn new(stream: UnixStream) -> Outbox {
        Outbox {
            stream: Mutex::new(stream),
            failure: Mutex::new(None),
        }
    }

    /// Encodes `message` with the caller's buffers and writes it.
    pub fn send(
        &self,
        message: &impl Serialize,
        body: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<(), UmiError> {
        message::encode(message, body);
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        wire::write_message(&mut *stream, body, scratch)?;
        Ok(())
    }

    /// Ends the session with `error`, unless another failure came first:
    /// tells the arena, then shuts the socket.
    pub fn fail(&self, error: UmiError) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if failure.is_some() {
            return;
        }
        tracing::error!(code = error.code(), "{error}");
        let msg = error.to_string();
        let report = ErrorReport {
            t: "error",
            code: error.code(),
            msg: &msg,
        };
        *failure = Some(error);
        drop(failure);
        let mut body = Vec::new();
        message::encode(&report, &mut body);
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        // The arena may be gone already; the error is logged either way.
        let _ = wire::write_message(&mut *stream, &body, &mut Vec::new());
        let _ = stream.flush();
        let _ = stream.shutdown(Shutdown::Both);
    }

    /// The failure that ended the session, if one did.
    pub fn take_failure(&self) -> Option<UmiError> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    pub fn failed(&self) -> bool {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}
