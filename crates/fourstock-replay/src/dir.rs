//! Finding replays: the .slp files of a folder, in a stable order.

use std::io;
use std::path::{Path, PathBuf};

/// The `.slp` files directly inside `dir` (not its subfolders), sorted by path.
pub fn replay_files(dir: impl AsRef<Path>) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let is_slp = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("slp"));
        if is_slp && entry.file_type()?.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
