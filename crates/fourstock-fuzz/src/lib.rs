//! The fuzz targets: one `pub fn(&[u8])` per decoder that reads bytes
//! from a socket or a file, each calling the owning crate's real entry
//! points. A target returns normally on every input, `Ok` or `Err`; a
//! panic, an abort, a hang or an allocation past [`alloc::CAP`] is a bug
//! in the decoder.
//!
//! Two callers share this table. The AFL++ binaries in `fuzz/` (a crate
//! outside the workspace, so a normal build never compiles afl) run one
//! target each under coverage guidance, and `tests/corpus.rs` replays
//! every checked-in seed and regression input through every target in
//! `cargo test`. Files: [`proto`], [`umi`], [`slp`], [`pickle`], [`model`],
//! and [`alloc`], the allocator that turns a giant allocation into a
//! crash.

pub mod alloc;
pub mod model;
pub mod pickle;
pub mod proto;
pub mod slp;
pub mod umi;

/// A target: its name (the corpus folder under `fuzz/corpus/` and the
/// AFL++ binary's name) and its function.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, fastest first.
pub const TARGETS: &[Target] = &[
    Target {
        name: "proto",
        run: proto::client,
    },
    Target {
        name: "umi",
        run: umi::arena,
    },
    Target {
        name: "pickle",
        run: pickle::checkpoint,
    },
    Target {
        name: "model",
        run: model::folder,
    },
    Target {
        name: "slp",
        run: slp::replay,
    },
];
