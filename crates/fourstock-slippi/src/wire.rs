//! From a protocol [`Frame`] to the [`Observation`] a slippi-ai policy
//! reads, seen from the port it plays.
//!
//! p0 is the port's leader; p1 is the other leader player (the lowest other
//! port, should there be more than one; an empty player if there is none).
//! Characters and stages go from external to libmelee's internal ids;
//! percent is truncated to the integer slippi-ai stores.
//!
//! The stage state comes from the frame, as slippi-ai's parser
//! (`slippi_db/parse_peppi.py`) fills it: Randall's position only on
//! Yoshi's Story and the platform heights only on Fountain of Dreams, zeros
//! everywhere else whatever the client sent.
//!
//! These are not read because the supported configs do not embed them (a
//! checkpoint that needs them is refused at import): items, Nana's own
//! state, the opponent's controller, and speeds. A character transforming
//! mid-game (Sheik/Zelda) needs the per-frame internal character, which
//! the external id on the wire cannot express.

use fourstock_proto::melee::{
    internal_character, internal_stage, INTERNAL_FOUNTAIN_OF_DREAMS, INTERNAL_YOSHIS_STORY,
};
use fourstock_proto::{Frame, PlayerFrame};

use crate::observation::{Observation, PlayerObservation};

/// The observation of `frame` from `port`'s point of view; `None` when the
/// port has no leader player in the frame.
pub fn observe(frame: &Frame, port: u8) -> Option<Observation> {
    let me = frame.player(port)?;
    let opponent = frame.opponent(port);
    let stage = internal_stage(frame.stage);
    let on = |here: u8, values: [f32; 2]| if stage == here { values } else { [0.0; 2] };
    Some(Observation {
        stage,
        p0: player(me),
        p1: opponent.map(player).unwrap_or_default(),
        randall: on(INTERNAL_YOSHIS_STORY, frame.stage_state.randall),
        fod_platforms: on(INTERNAL_FOUNTAIN_OF_DREAMS, frame.stage_state.fod_platforms),
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

    #[test]
    fn each_stage_keeps_only_its_own_moving_parts() {
        let stage_state = StageState {
            randall: [-45.25, -33.25],
            fod_platforms: [20.0, 28.0],
        };
        let on = |stage: u16| {
            let frame = Frame {
                frame: 100,
                stage,
                stage_state,
                players: vec![player_frame(1, 2, false)],
            };
            let obs = observe(&frame, 1).unwrap();
            (obs.randall, obs.fod_platforms)
        };
        // Yoshi's Story (8): Randall only.
        assert_eq!(on(8), ([-45.25, -33.25], [0.0, 0.0]));
        // Fountain of Dreams (2): the platforms only.
        assert_eq!(on(2), ([0.0, 0.0], [20.0, 28.0]));
        // Battlefield, and a stage off libmelee's list: neither.
        for stage in [31, 40] {
            assert_eq!(on(stage), ([0.0; 2], [0.0; 2]), "stage {stage}");
        }
    }
}
