//! From a protocol [`Frame`] to the [`Observation`] a slippi-ai policy
//! reads, seen from the port it plays.
//!
//! p0 is the port's leader; p1 is the other leader player (the lowest other
//! port, should there be more than one; an empty player if there is none).
//! Characters and stages go from external to libmelee's internal ids;
//! percent is truncated to the integer slippi-ai stores.
//!
//! The protocol does not carry everything slippi-ai's games hold. Until it
//! does, these are filled as slippi-ai sees them on a stage without them:
//! - Randall's position on Yoshi's Story: (0, 0);
//! - Fountain of Dreams' platform heights: (0, 0);
//!
//! and these are not read because the supported configs do not embed them
//! (a checkpoint that needs them is refused at import): items, Nana's own
//! state, the opponent's controller, and speeds. A character transforming
//! mid-game (Sheik/Zelda) needs the per-frame internal character, which
//! the external id on the wire cannot express.

use fourstock_proto::{Frame, PlayerFrame};

use crate::melee_ids::{internal_character, internal_stage};
use crate::observation::{Observation, PlayerObservation};

/// The observation of `frame` from `port`'s point of view; `None` when the
/// port has no leader player in the frame.
pub fn observe(frame: &Frame, port: u8) -> Option<Observation> {
    let me = frame.player(port)?;
    let opponent = frame
        .players
        .iter()
        .filter(|p| !p.follower && p.port != port)
        .min_by_key(|p| p.port);
    Some(Observation {
        stage: internal_stage(frame.stage),
        p0: player(me),
        p1: opponent.map(player).unwrap_or_default(),
        randall: [0.0; 2],
        fod_platforms: [0.0; 2],
    })
}

fn player(p: &PlayerFrame) -> PlayerObservation {
    PlayerObservation {
        // 0xFF (libmelee's UNKNOWN_CHARACTER) leaves the one-hot empty.
        character: internal_character(p.character).unwrap_or(0xFF),
        action: p.action_state,
        x: p.x,
        y: p.y,
        // `as` saturates: NaN and negatives become 0.
        percent: p.percent as u16,
        facing: p.facing_right,
        invulnerable: p.invulnerable,
        jumps_left: p.jumps_left,
        shield_strength: p.shield,
        on_ground: p.on_ground,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fourstock_proto::StageState;

    fn player_frame(port: u8, character: u8, follower: bool) -> PlayerFrame {
        PlayerFrame {
            follower,
            x: port as f32,
            y: 1.0,
            facing_right: port == 1,
            percent: 27.9,
            ..PlayerFrame::new(port, character)
        }
    }

    #[test]
    fn the_port_is_p0_and_the_other_leader_p1() {
        let frame = Frame {
            frame: 0,
            stage: 31,
            stage_state: StageState::NONE,
            players: vec![
                player_frame(1, 14, false),
                player_frame(1, 14, true),
                player_frame(3, 19, false),
            ],
        };
        let obs = observe(&frame, 3).unwrap();
        assert_eq!(obs.stage, 24);
        assert_eq!((obs.p0.character, obs.p0.x), (7, 3.0));
        assert_eq!((obs.p1.character, obs.p1.x), (0x0A, 1.0));
        assert!(obs.p1.facing && !obs.p0.facing);
        assert_eq!(obs.p0.percent, 27);
        assert!(observe(&frame, 2).is_none());
        let alone = Frame {
            players: vec![player_frame(2, 2, false)],
            ..frame
        };
        assert_eq!(observe(&alone, 2).unwrap().p1, PlayerObservation::default());
    }
}
