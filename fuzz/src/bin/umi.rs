//! AFL++ binary for the `umi` target: `fourstock_fuzz::umi::arena`.

#[global_allocator]
static ALLOC: fourstock_fuzz::alloc::CappedAlloc = fourstock_fuzz::alloc::CappedAlloc;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        fourstock_fuzz::umi::arena(data);
    });
}
