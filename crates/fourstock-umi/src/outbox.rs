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
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

use crate::error::UmiError;
use crate::message::{self, ErrorReport};
use crate::wire;

pub struct Outbox {
    stream: Mutex<UnixStream>,
    failure: OnceLock<UmiError>,
}

impl Outbox {
    pub fn new(stream: UnixStream) -> Outbox {
        Outbox {
            stream: Mutex::new(stream),
            failure: OnceLock::new(),
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
        if self.failure.set(error).is_err() {
            return;
        }
        let error = self.failure.get().expect("just set");
        tracing::error!(code = error.code(), "{error}");
        let msg = error.to_string();
        let report = ErrorReport {
            t: "error",
            code: error.code(),
            msg: &msg,
        };
        let mut body = Vec::new();
        message::encode(&report, &mut body);
        let mut stream = self.stream.lock().unwrap_or_else(|e| e.into_inner());
        // The arena may be gone already; the error is logged either way.
        let _ = wire::write_message(&mut *stream, &body, &mut Vec::new());
        let _ = stream.flush();
        let _ = stream.shutdown(Shutdown::Both);
    }

    /// The failure that ended the session, if one did.
    pub fn take_failure(&mut self) -> Option<UmiError> {
        self.failure.take()
    }

    pub fn failed(&self) -> bool {
        self.failure.get().is_some()
    }
}
