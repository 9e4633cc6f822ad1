//! AFL++ binary for the `model` target: `fourstock_fuzz::model::folder`.

#[global_allocator]
static ALLOC: fourstock_fuzz::alloc::CappedAlloc = fourstock_fuzz::alloc::CappedAlloc;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        fourstock_fuzz::model::folder(data);
    });
}
