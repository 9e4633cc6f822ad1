//! AFL++ binary for the `pickle` target: `fourstock_fuzz::pickle::checkpoint`.

#[global_allocator]
static ALLOC: fourstock_fuzz::alloc::CappedAlloc = fourstock_fuzz::alloc::CappedAlloc;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        fourstock_fuzz::pickle::checkpoint(data);
    });
}
