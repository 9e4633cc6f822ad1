//! The shared secret a `Hello` carries to a daemon that asks for one, as
//! both sides read it from a token file: text of one line, surrounding
//! whitespace (the final newline) removed, at most [`MAX_TOKEN_BYTES`]
//! bytes. The file's size is checked before it is read.

use std::io::Read;
use std::path::Path;

use crate::MAX_TOKEN_BYTES;

/// The largest token file read, in bytes.
const MAX_FILE_BYTES: u64 = 4096;

/// Why a token could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("reading the token file {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("the token file {path} is over {MAX_FILE_BYTES} bytes")]
    FileTooLarge { path: String },
    #[error("the token is empty")]
    Empty,
    #[error("the token is {len} bytes; at most {MAX_TOKEN_BYTES} are allowed")]
    TooLong { len: usize },
}

/// `secret` without surrounding whitespace, if it is a usable token.
pub fn check(secret: &str) -> Result<&str, TokenError> {
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(TokenError::Empty);
    }
    if secret.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong { len: secret.len() });
    }
    Ok(secret)
}

/// The token in the file at `path`.
pub fn read_file(path: &Path) -> Result<String, TokenError> {
    let unreadable = |source| TokenError::Unreadable {
        path: path.display().to_string(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(unreadable)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(TokenError::FileTooLarge {
            path: path.display().to_string(),
        });
    }
    check(&text).map(str::to_string)
}
