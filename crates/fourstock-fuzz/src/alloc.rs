//! A global allocator that aborts on any single allocation over [`CAP`].
//!
//! Without it a decoder that trusts a length field and allocates 4 GiB
//! only fails when the machine runs out of memory, and an overcommitting
//! kernel may not even notice. 256 MiB is the largest input any decoder
//! here accepts (a replay file, `MAX_REPLAY_BYTES`); fuzz inputs are at
//! most 1 MB, so an allocation past the cap is a length field believed,
//! not data. The abort is a crash to AFL++ and a failed `cargo test`.

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a target may make.
pub const CAP: usize = 256 << 20;

/// [`System`], with the cap. Install with `#[global_allocator]`.
pub struct CappedAlloc;

impl CappedAlloc {
    fn check(size: usize) {
        if size > CAP {
            // No allocation, no formatting machinery: write and abort.
            let msg = b"fourstock-fuzz: an allocation over the 256 MiB cap\n";
            let _ = std::io::Write::write_all(&mut std::io::stderr(), msg);
            std::process::abort();
        }
    }
}

// SAFETY: every call is forwarded to `System` unchanged after the check.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
