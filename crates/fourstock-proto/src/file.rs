//! Reading a whole file that comes from outside (a replay, a model's
//! config or weights, a pickled checkpoint) with a size cap checked first.
//!
//! Each kind of file has its own cap, chosen from real files and said next
//! to its constant; this module only enforces it. The file's length is
//! read from its metadata and refused over the cap before a byte is read;
//! the read itself stops one byte past the cap, so a file that grows
//! between the two is refused too, never read whole.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a capped file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: the file is {size} bytes, over the {cap}-byte cap for {what}")]
    TooLarge {
        path: PathBuf,
        /// What the file was read as: "a replay", "a model config" …
        what: &'static str,
        size: u64,
        cap: u64,
    },
}

/// The bytes of the file at `path`, read as `what`, if it holds at most
/// `cap` bytes.
pub fn read_capped(path: &Path, cap: u64, what: &'static str) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let too_large = |size| FileError::TooLarge {
        path: path.to_path_buf(),
        what,
        size,
        cap,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > cap {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > cap {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_at_the_cap_is_read_and_one_byte_more_is_refused() {
        let dir = std::env::temp_dir().join(format!("fourstock-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ten");
        std::fs::write(&path, [7u8; 10]).unwrap();
        assert_eq!(read_capped(&path, 10, "a test").unwrap(), [7u8; 10]);
        let error = read_capped(&path, 9, "a test").unwrap_err();
        assert!(
            matches!(
                error,
                FileError::TooLarge {
                    size: 10,
                    cap: 9,
                    ..
                }
            ),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("ten: the file is 10 bytes, over the 9-byte cap for a test"),
            "{text}"
        );
        assert!(matches!(
            read_capped(&dir.join("absent"), 9, "a test"),
            Err(FileError::Io { .. })
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
