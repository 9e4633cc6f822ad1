//! How a game ended, by name. Melee's own ids (characters, stages) are
//! named in [`fourstock_proto::melee`].

/// The name of a game-end method, as in Slippi's game-end event.
pub(crate) fn end_method(method: u8) -> &'static str {
    match method {
        0 => "unresolved",
        1 => "time",
        2 => "game",
        3 => "resolved",
        7 => "no contest",
        _ => "unknown",
    }
}
