//! .slp ingestion: [`read_replay_bytes`], the bytes form of `read_replay`,
//! runs peppi behind fourstock-replay's guards and converts the game into
//! the messages a client would send, each checked by the protocol's
//! validator.
//!
//! fourstock-replay contains peppi's own panics (`catch_unwind`) and
//! reports them as `Reason::Panicked`; those return here like any other
//! error, so the AFL++ binary for this target keeps the default panic hook
//! (`fuzz_nohook!`). A panic that escapes the guards, an abort, a stack
//! overflow or a giant allocation is still a crash.

use fourstock_replay::read_replay_bytes;

/// One replay file's bytes.
pub fn replay(data: &[u8]) {
    if let Ok(replay) = read_replay_bytes(data, "fuzz.slp") {
        for message in &replay.messages {
            fourstock_proto::validate::client_message(message)
                .expect("every message of a replay passes validation");
        }
    }
}
