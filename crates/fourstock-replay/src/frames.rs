//! peppi's frame columns into protocol [`Frame`]s: one frame per frame
//! number (rollback re-sends dropped), every present character as a
//! [`PlayerFrame`], Ice Climbers' Nana as a follower on Popo's port, and
//! the stage's moving parts ([`crate::stage`]).
//!
//! Fields older Slippi versions do not record take these defaults:
//! `action_frame` 0 (before 0.2); `jumps_left` 0, `on_ground` false and
//! `hitstun_left` 0 (before 2.0); `invulnerable` false (before 2.1); the five
//! speeds 0 (before 3.5); `hitlag_left` 0 (before 3.8). Non-finite floats
//! become 0 (sticks 0.5), so every frame passes validation.

use std::collections::BTreeMap;

use fourstock_proto::melee::{self, FOUNTAIN_OF_DREAMS};
use fourstock_proto::{Frame, PlayerFrame};
use peppi::frame::immutable::Data;
use peppi::frame::transpose;
use peppi::game::immutable::Game;

use crate::controller;
use crate::error::Reason;
use crate::stage;

/// Post-frame state flags, byte 4: the character is in hitstun.
const FLAGS4_HITSTUN: u8 = 0x02;

/// A game's frames, deduplicated.
pub(crate) struct Frames {
    /// One per frame number, in order.
    pub frames: Vec<Frame>,
    /// Rollback re-sends dropped: recorded frames minus distinct frame numbers.
    pub rollback_dropped: usize,
}

/// Converts every frame of `game`.
pub(crate) fn convert(game: &Game) -> Result<Frames, Reason> {
    let ids: &[i32] = game.frames.id.values();
    for port in &game.frames.ports {
        columns_agree(&port.leader, ids.len(), "leader")?;
        if let Some(nana) = &port.follower {
            columns_agree(nana, ids.len(), "follower")?;
        }
    }

    // The last copy of a frame number is the one the game kept: netplay
    // re-sends a frame after a rollback, and peppi keeps every copy.
    let mut kept: BTreeMap<i32, usize> = BTreeMap::new();
    for (index, &id) in ids.iter().enumerate() {
        kept.insert(id, index);
    }
    let rollback_dropped = ids.len() - kept.len();

    let version = game.start.slippi.version;
    let stage = game.start.stage;
    let fod_platforms = if stage == FOUNTAIN_OF_DREAMS {
        fod_platforms(game, ids.len())?
    } else {
        None
    };
    let start_character = |port: u8| {
        game.start
            .players
            .iter()
            .find(|p| u8::from(p.port) + 1 == port)
            .map_or(0, |p| p.character)
    };
    let frames = kept
        .into_iter()
        .map(|(id, index)| {
            let mut players = Vec::with_capacity(game.frames.ports.len());
            for port_data in &game.frames.ports {
                let port = u8::from(port_data.port) + 1;
                let fallback = start_character(port);
                let characters = std::iter::once((&port_data.leader, false))
                    .chain(port_data.follower.as_ref().map(|nana| (nana, true)));
                for (data, follower) in characters {
                    if present(data, index) {
                        let data = data.transpose_one(index, version);
                        players.push(player(port, follower, fallback, &data));
                    }
                }
            }
            let fod = fod_platforms.as_ref().map(|heights| heights[index]);
            Frame {
                frame: id,
                stage,
                stage_state: stage::stage_state(stage, id, fod),
                players,
            }
        })
        .collect();
    Ok(Frames {
        frames,
        rollback_dropped,
    })
}

/// Fountain of Dreams' platform heights after each recorded frame, or
/// `None` when the replay records no platform events (before Slippi 3.18).
fn fod_platforms(game: &Game, frames: usize) -> Result<Option<Vec<[f32; 2]>>, Reason> {
    let (Some(events), Some(offsets)) = (
        game.frames.fod_platform.as_ref(),
        game.frames.fod_platform_offset.as_ref(),
    ) else {
        return Ok(None);
    };
    stage::fod_platform_heights(
        offsets.as_slice(),
        events.platform.values(),
        events.height.values(),
        frames,
    )
    .map(Some)
}

/// Checks that a character's columns cover every frame, so indexing them
/// cannot go out of bounds.
fn columns_agree(data: &Data, frames: usize, who: &str) -> Result<(), Reason> {
    let pre = data.pre.state.len();
    let post = data.post.state.len();
    let validity = data.validity.as_ref().map_or(frames, |v| v.len());
    if pre == frames && post == frames && validity == frames {
        Ok(())
    } else {
        Err(Reason::Corrupt(format!(
            "{who} frame data does not line up: {frames} frames, {pre} pre-frame and {post} post-frame events"
        )))
    }
}

/// Whether the character has events on this frame (Nana is absent while dead).
fn present(data: &Data, index: usize) -> bool {
    data.validity.as_ref().is_none_or(|v| v.get_bit(index))
}

fn player(port: u8, follower: bool, fallback: u8, data: &transpose::Data) -> PlayerFrame {
    let post = &data.post;
    let speeds = post.velocities.unwrap_or_default();
    let hitstun_left = match (post.state_flags, post.misc_as) {
        (Some(flags), Some(misc)) if flags.3 & FLAGS4_HITSTUN != 0 => finite(misc).max(0.0),
        _ => 0.0,
    };
    PlayerFrame {
        port,
        follower,
        // The post-frame character follows Zelda/Sheik transformations.
        character: melee::external_character(post.character).unwrap_or(fallback),
        action_state: post.state,
        action_frame: finite(post.state_age.unwrap_or(0.0)),
        x: finite(post.position.x),
        y: finite(post.position.y),
        facing_right: post.direction > 0.0,
        percent: finite(post.percent),
        stocks: post.stocks,
        shield: finite(post.shield),
        jumps_left: post.jumps.unwrap_or(0),
        on_ground: post.airborne.is_some_and(|airborne| airborne == 0),
        invulnerable: post.hurtbox_state.is_some_and(|state| state != 0),
        hitlag_left: finite(post.hitlag.unwrap_or(0.0)).max(0.0),
        hitstun_left,
        speed_air_x_self: finite(speeds.self_x_air),
        speed_ground_x_self: finite(speeds.self_x_ground),
        speed_y_self: finite(speeds.self_y),
        speed_x_attack: finite(speeds.knockback_x),
        speed_y_attack: finite(speeds.knockback_y),
        controller: controller::from_pre(&data.pre),
    }
}

fn finite(v: f32) -> f32 {
    if v.is_finite() {
        v
    } else {
        0.0
    }
}
