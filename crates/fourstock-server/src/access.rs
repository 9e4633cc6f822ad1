//! Who may use the daemon. A daemon reachable beyond loopback holds a
//! shared secret (`--token-file`) that every `Hello` must carry; one on
//! loopback needs none, and one beyond loopback without a secret starts only
//! when its operator says so (`--insecure-no-auth`).
//!
//! The secret is kept only as its SHA-256 digest, and a presented token is
//! hashed and compared in constant time (`subtle`): neither the time taken
//! nor the answer says how much of a guess was right, or how long the
//! secret is. The rule is the daemon's own; the hashing and the comparison
//! are the RustCrypto crates'.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use fourstock_proto::token::{self, TokenError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Who may open a session.
#[derive(Clone, Debug, Default)]
pub enum Access {
    /// Anyone who can connect; the daemon listens on loopback only.
    #[default]
    Loopback,
    /// Only clients whose `Hello` carries the token.
    Token(Token),
    /// Anyone who can connect, on any address: `--insecure-no-auth`.
    Insecure,
}

impl Access {
    /// Whether the daemon may listen on `addr` with this access: beyond
    /// loopback it needs a token, unless told to go without.
    pub fn permits(&self, addr: SocketAddr) -> Result<(), NoToken> {
        match self {
            Access::Loopback if !addr.ip().is_loopback() => Err(NoToken { addr }),
            _ => Ok(()),
        }
    }

    /// Whether a `Hello` carrying `presented` may open a session.
    pub fn admits(&self, presented: Option<&str>) -> bool {
        match self {
            Access::Loopback | Access::Insecure => true,
            Access::Token(token) => presented.is_some_and(|p| token.matches(p)),
        }
    }
}

/// A shared secret, kept as its digest.
#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
}

impl Token {
    /// The token `secret`, without surrounding whitespace.
    pub fn new(secret: &str) -> Result<Token, TokenError> {
        Ok(Token {
            digest: digest(token::check(secret)?),
        })
    }

    /// The token in a token file (see [`fourstock_proto::token`]).
    pub fn read(path: &Path) -> Result<Token, TokenError> {
        Token::new(&token::read_file(path)?)
    }

    /// Whether `presented` is exactly this token, in time that does not
    /// depend on how much of it matches.
    pub fn matches(&self, presented: &str) -> bool {
        digest(presented).ct_eq(&self.digest).into()
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(redacted)")
    }
}

fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A daemon told to listen beyond loopback with neither a token nor
/// `--insecure-no-auth`.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to listen on {addr} without a token: anyone who reaches it could use the \
     daemon. Give --token-file PATH, listen on loopback (127.0.0.1), or pass \
     --insecure-no-auth on a network you trust"
)]
pub struct NoToken {
    pub addr: SocketAddr,
}
