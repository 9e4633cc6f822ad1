//! Everything that ends a UMI session early, as one [`UmiError`] with the
//! short `code` the `error` message carries to the arena.

use fourstock_policy::PolicyError;

/// Why the bot stopped before a `shutdown`.
#[derive(Debug, thiserror::Error)]
pub enum UmiError {
    /// The socket failed, or the arena closed it without a `shutdown`.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A length prefix past the largest message the bot reads.
    #[error("a message of {0} bytes is over the limit")]
    TooLarge(u32),
    /// Bytes that are not a msgpack map with a string `t`, or a known
    /// message with missing or mistyped fields.
    #[error("malformed {what}: {reason}")]
    Malformed { what: String, reason: String },
    /// A `t` this bot does not know.
    #[error("unknown message type {0:?}")]
    UnknownMessage(String),
    /// A known message where the session expects another.
    #[error("expected {expected}, got {got}")]
    Unexpected { expected: &'static str, got: String },
    /// An `obs` or `end_games` naming a game no `new_games` started.
    #[error("{context}: unknown game {game}")]
    UnknownGame { context: String, game: u32 },
    /// A game started twice, moved lanes, or more games than granted.
    #[error("{0}")]
    Game(String),
    /// An array field of the wrong length.
    #[error("{0}")]
    BadArray(String),
    /// A frame whose values cannot be played (an unknown character, a
    /// non-finite float).
    #[error("{0}")]
    BadFrame(String),
    /// A welcome or game the served models cannot play.
    #[error("{0}")]
    Unplayable(String),
    /// A step failed inside a model.
    #[error("model {model}: {source}")]
    Policy { model: String, source: PolicyError },
    /// The arena sent nothing, or read nothing, for too long.
    #[error("the arena {0}")]
    Stalled(String),
    /// A bug: a lane's thread panicked.
    #[error("lane {lane} stopped: {reason}")]
    Internal { lane: u32, reason: String },
}

impl UmiError {
    /// The `code` of the `error` message.
    pub fn code(&self) -> &'static str {
        match self {
            UmiError::Io(_) => "connection",
            UmiError::TooLarge(_) => "too_large",
            UmiError::Malformed { .. } => "malformed",
            UmiError::UnknownMessage(_) => "unknown_message",
            UmiError::Unexpected { .. } => "unexpected_message",
            UmiError::UnknownGame { .. } => "unknown_game",
            UmiError::Game(_) => "bad_game",
            UmiError::BadArray(_) => "bad_array",
            UmiError::BadFrame(_) => "bad_frame",
            UmiError::Unplayable(_) => "unplayable",
            UmiError::Policy { .. } => "model",
            UmiError::Stalled(_) => "stalled",
            UmiError::Internal { .. } => "internal",
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, reason: impl ToString) -> UmiError {
        UmiError::Malformed {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}
