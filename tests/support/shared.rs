//! Where the shared real data lives, and the skip line when it is absent.

use std::path::PathBuf;

/// `$FOURSTOCK_REPLAYS`, else `../shared/replays` beside the checkout; `None`
/// (after printing a SKIP line for `test`) when the folder is absent.
pub fn replays_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("FOURSTOCK_REPLAYS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/replays"));
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "SKIP: {test}: replays folder {} not found (set FOURSTOCK_REPLAYS)",
            dir.display()
        );
        None
    }
}
