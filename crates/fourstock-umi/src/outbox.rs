//! The bot's side of the socket that every thread writes to, and the one
//! failure that ends the session.
//!
//! Each lane encodes its `act` itself and writes it whole under a lock, so
//! replies never interleave. The first failure, from the reader or from a
//! lane, is kept, reported to the arena as an `error` message, and ends the
//! session: the socket is shut down, which wakes a reader blocked on it.
//! Writes wait at most the write timeout, so an arena that stops reading
//! ends the session instead of leaving every lane blocked on the lock.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use crate::error::UmiError;
use crate::message::{self, ErrorReport};
use crate::wire;

pub struct Outbox {
    stream: Mutex<UnixStream>,
    failure: Mutex<Option<UmiError>>,
    write_timeout: Duration,
}

/// Whether a socket error is a timeout set on the socket running out.
pub(crate) fn timed_out(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Outbox {
    /// Writes to `stream`, each message within `write_timeout`.
    pub fn new(stream: UnixStream, write_timeout: Duration) -> std::io::Result<Outbox> {
        stream.set_write_timeout(Some(write_timeout))?;
        Ok(Outbox {
            stream: Mutex::new(stream),
            failure: Mutex::new(None),
            write_timeout,
        })
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
        match wire::write_message(&mut *stream, body, scratch) {
            Ok(()) => Ok(()),
            Err(e) if timed_out(&e) => Err(UmiError::Stalled(format!(
                "read nothing for {} s",
                self.write_timeout.as_secs_f64()
            ))),
            Err(e) => Err(e.into()),
        }
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
