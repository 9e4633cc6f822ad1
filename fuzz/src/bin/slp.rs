//! AFL++ binary for the `slp` target: `fourstock_fuzz::slp::replay`.

// The default panic hook stays (fuzz_nohook): fourstock-replay contains
// peppi's panics by design and reports them as errors (see
// crates/fourstock-fuzz/src/slp.rs). A panic that escapes is a crash.
#[global_allocator]
static ALLOC: fourstock_fuzz::alloc::CappedAlloc = fourstock_fuzz::alloc::CappedAlloc;

fn main() {
    afl::fuzz_nohook!(|data: &[u8]| {
        fourstock_fuzz::slp::replay(data);
    });
}
