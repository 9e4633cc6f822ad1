//! Panics inside peppi, caught and kept quiet.
//!
//! peppi asserts, unwraps and indexes on what it reads, so a malformed file
//! can panic inside it. [`contain`] runs a call under `catch_unwind` and
//! turns a panic into [`Reason::Panicked`], its message kept in the error.
//!
//! A caught panic would still print its trace: the panic hook runs before
//! the unwinding reaches `catch_unwind`. The hook is process-wide, so it is
//! not swapped per call (another thread's real panic would go unreported).
//! Instead one hook is installed, once, in front of whatever hook was
//! there: while a thread is inside [`contain`] (a thread-local count says
//! so) it only notes where the panic happened, for the error; every other
//! panic, on any thread, goes to the previous hook and prints as before.
//! A hook someone installs later replaces this one, and contained panics
//! then print again, which is noisy but loses nothing.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use crate::error::Reason;

thread_local! {
    /// How many [`contain`] calls this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// Where the last contained panic on this thread happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Runs `f`, turning a panic into [`Reason::Panicked`] without printing it.
pub(crate) fn contain<T>(f: impl FnOnce() -> T) -> Result<T, Reason> {
    INSTALL.call_once(install);
    DEPTH.with(|d| d.set(d.get() + 1));
    let _inside = Inside;
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        let location = LOCATION.with(|l| l.borrow_mut().take());
        let message = message(&*payload);
        Reason::Panicked(match location {
            Some(at) => format!("{message} (at {at})"),
            None => message,
        })
    })
}

/// Leaves a [`contain`] call: drops the count even if `f` unwound.
struct Inside;

impl Drop for Inside {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// Puts the quiet hook in front of the current one.
fn install() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        // `try_with`: a panic while this thread's locals are torn down is
        // not a contained one.
        let contained = DEPTH.try_with(|d| d.get() > 0).unwrap_or(false);
        if contained {
            let at = info.location().map(|l| l.to_string());
            let _ = LOCATION.try_with(|l| *l.borrow_mut() = at);
        } else {
            previous(info);
        }
    }));
}

fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_are_contained_with_their_message_and_place() {
        let r: Result<(), Reason> = contain(|| panic!("boom {}", 7));
        match r {
            Err(Reason::Panicked(m)) => {
                assert!(m.starts_with("boom 7 (at "), "{m}");
                assert!(m.contains("contain.rs:"), "{m}");
            }
            other => panic!("expected a contained panic, got {other:?}"),
        }
        assert_eq!(DEPTH.with(Cell::get), 0, "the count is back to zero");
    }

    #[test]
    fn nested_calls_stay_contained() {
        let r = contain(|| contain(|| panic!("inner")).map(|_: ()| ()));
        assert!(matches!(r, Ok(Err(Reason::Panicked(_)))), "{r:?}");
        assert_eq!(DEPTH.with(Cell::get), 0);
    }
}
