//! AFL++ binary for the `proto` target: `fourstock_fuzz::proto::client`.

#[global_allocator]
static ALLOC: fourstock_fuzz::alloc::CappedAlloc = fourstock_fuzz::alloc::CappedAlloc;

fn main() {
    afl::fuzz!(|data: &[u8]| {
        fourstock_fuzz::proto::client(data);
    });
}
