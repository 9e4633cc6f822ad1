//! What moves on a stage, for a frame's [`StageState`]: Randall on Yoshi's
//! Story, whose path is a fixed function of the frame number, and Fountain
//! of Dreams' side platforms, whose heights the replay records.
//!
//! Both are filled as slippi-ai's parser (`slippi_db/parse_peppi.py`) fills
//! them, and only on their own stage; every other stage gets zeros.
//!
//! - **Randall** follows libmelee's extrapolation
//!   (`melee.stages.randall_position`): a 1200-frame lap of four straight
//!   sections joined by rounded corners, tabulated. Its x is the midpoint of
//!   the cloud's two edges.
//! - **The platforms** start at left 20, right 28 and take each platform
//!   event's height, in recording order (rollback copies included, as
//!   slippi-ai and libmelee apply them). Slippi records these events from
//!   version 3.18; older replays on Fountain of Dreams get zeros, as
//!   slippi-ai's games have no heights for them either.

use fourstock_proto::melee::{FOUNTAIN_OF_DREAMS, YOSHIS_STORY};
use fourstock_proto::StageState;

use crate::error::Reason;

/// Frames in one lap of Randall around Yoshi's Story.
pub const RANDALL_CYCLE: i32 = 1200;

/// Randall's width, between its left and right edges.
const RANDALL_WIDTH: f64 = 11.9;

/// Fountain of Dreams' platform heights when a game starts.
const FOD_START: [f32; 2] = [20.0, 28.0];

/// Which platform a FoD platform event moves (peppi's `platform` field).
const FOD_RIGHT: u8 = 0;
const FOD_LEFT: u8 = 1;

/// One rounded corner of Randall's lap: the first frame it covers, then
/// Randall's (height, left edge) on each of its frames.
struct Corner {
    from: i32,
    path: &'static [(f64, f64)],
}

/// libmelee's measured corner positions, in lap order.
const CORNERS: [Corner; 4] = [
    // Bottom right, turning up.
    Corner {
        from: 416,
        path: &[
            (-33.184478759765625, 89.75263977050781),
            (-33.04470443725586, 90.07878112792969),
            (-32.904930114746094, 90.40492248535156),
            (-32.76515197753906, 90.73107147216797),
            (-32.49260711669922, 90.92455291748047),
            (-32.16635513305664, 91.06437683105469),
            (-31.840103149414062, 91.20419311523438),
            (-31.513851165771484, 91.3440170288086),
        ],
    },
    // Top right, turning left.
    Corner {
        from: 469,
        path: &[
            (-15.1948881149292, 91.3371353149414),
            (-14.868742942810059, 91.1973648071289),
            (-14.542601585388184, 91.05758666992188),
            (-14.216456413269043, 90.91781616210938),
            (-13.967143058776855, 90.71036529541016),
            (-13.869664192199707, 90.36917877197266),
            (-13.772183418273926, 90.02799224853516),
            (-13.674698829650879, 89.68680572509766),
        ],
    },
    // Top left, turning down.
    Corner {
        from: 1016,
        path: &[
            (-13.679760932922363, -101.919677734375),
            (-13.819535255432129, -102.24581909179688),
            (-13.959305763244629, -102.57196044921875),
            (-14.099089622497559, -102.89810180664062),
            (-14.320136070251465, -103.14761352539062),
            (-14.6375150680542, -103.30630493164062),
            (-14.954894065856934, -103.46499633789062),
        ],
    },
    // Bottom left, turning right.
    Corner {
        from: 1069,
        path: &[
            (-31.590042114257812, -103.554931640625),
            (-31.907413482666016, -103.39625549316406),
            (-32.22478485107422, -103.23756408691406),
            (-32.54215621948242, -103.07887268066406),
            (-32.7216796875, -102.77439880371094),
            (-32.89775085449219, -102.46626281738281),
            (-33.07382583618164, -102.15814208984375),
        ],
    },
];

/// Randall's `(height, left edge x, right edge x)` on `frame`, exactly as
/// libmelee's `randall_position` computes it (in f64, with its constants;
/// libmelee says they are within 0.001 of the game's).
pub fn randall_position(frame: i32) -> (f64, f64, f64) {
    let t = frame.rem_euclid(RANDALL_CYCLE);
    let along = |start: i32| f64::from(t - start);
    if (477..1016).contains(&t) {
        // Top, moving left.
        let (start, speed) = (101.235443115234, -0.35484);
        let moved = speed * along(477);
        return (-13.64989, start - RANDALL_WIDTH + moved, start + moved);
    }
    if (1023..1069).contains(&t) {
        // Left side, moving down.
        let (start, speed) = (-15.2778692245483, -0.354839325);
        return (start + speed * along(1023), -103.6, -91.7);
    }
    if !(416..=1075).contains(&t) {
        // Bottom, moving right; the section wraps past the lap's end.
        let (start, speed) = (-101.850006103516, 0.35484);
        let moved = if t < 416 {
            speed * f64::from(125 + t)
        } else {
            speed * along(1076)
        };
        return (-33.2489, start + moved, start + RANDALL_WIDTH + moved);
    }
    if (424..469).contains(&t) {
        // Right side, moving up.
        let (start, speed) = (-31.160232543945312, 0.354839325);
        return (start + speed * along(424), 91.35, 103.25);
    }
    let (height, left) = CORNERS
        .iter()
        .find_map(|c| c.path.get(usize::try_from(t - c.from).ok()?).copied())
        .expect("the corners cover every frame between the sections");
    (height, left, left + RANDALL_WIDTH)
}

/// Randall's midpoint `[x, y]` on `frame`, as slippi-ai records it.
pub fn randall(frame: i32) -> [f32; 2] {
    let (height, left, right) = randall_position(frame);
    [((left + right) / 2.0) as f32, height as f32]
}

/// The stage state of a frame: Randall on Yoshi's Story, the platform
/// heights (`[left, right]`, if the replay records them) on Fountain of
/// Dreams, zeros elsewhere.
pub(crate) fn stage_state(stage: u16, frame: i32, fod_platforms: Option<[f32; 2]>) -> StageState {
    match stage {
        YOSHIS_STORY => StageState {
            randall: randall(frame),
            ..StageState::NONE
        },
        FOUNTAIN_OF_DREAMS => StageState {
            fod_platforms: fod_platforms.unwrap_or([0.0; 2]),
            ..StageState::NONE
        },
        _ => StageState::NONE,
    }
}

/// Fountain of Dreams' `[left, right]` platform heights after each recorded
/// frame, in recording order: the events of recorded frame `i` are
/// `platforms[offsets[i]..offsets[i + 1]]` (and the same of `heights`), as
/// peppi stores them.
pub(crate) fn fod_platform_heights(
    offsets: &[i32],
    platforms: &[u8],
    heights: &[f32],
    frames: usize,
) -> Result<Vec<[f32; 2]>, Reason> {
    let corrupt = || {
        Reason::Corrupt(format!(
            "Fountain of Dreams platform events do not line up: {frames} frames, \
             {} offsets, {} platforms, {} heights",
            offsets.len(),
            platforms.len(),
            heights.len()
        ))
    };
    if offsets.len() != frames + 1 || platforms.len() != heights.len() {
        return Err(corrupt());
    }
    let mut now = FOD_START;
    let mut out = Vec::with_capacity(frames);
    for pair in offsets.windows(2) {
        let (start, end) = (usize::try_from(pair[0]), usize::try_from(pair[1]));
        let (Ok(start), Ok(end)) = (start, end) else {
            return Err(corrupt());
        };
        let events = platforms.get(start..end).ok_or_else(corrupt)?;
        for (&platform, &height) in events.iter().zip(&heights[start..end]) {
            match platform {
                FOD_LEFT => now[0] = height,
                FOD_RIGHT => now[1] = height,
                // libmelee refuses such an event; slippi-ai's parser would
                // fail on it. Neither moves a platform.
                _ => {}
            }
        }
        out.push(now);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `melee.stages.randall_position(frame)` from libmelee 0.47.6, as
    /// `(height, x_left, x_right)`, printed by Python.
    const LIBMELEE: [(i32, f64, f64, f64); 13] = [
        // Top.
        (600, -13.64989, 45.690123115234, 57.59012311523401),
        (477, -13.64989, 89.335443115234, 101.235443115234),
        // Left side.
        (1040, -21.3101377495483, -103.6, -91.7),
        // Bottom, after and before the lap wraps, and the countdown.
        (1100, -33.2489, -93.333846103516, -81.43384610351599),
        (1199, -33.2489, -58.204686103515996, -46.30468610351599),
        (0, -33.2489, -57.495006103516, -45.59500610351599),
        (100, -33.2489, -22.011006103515996, -10.11100610351599),
        (415, -33.2489, 89.763593896484, 101.663593896484),
        (-123, -33.2489, -101.495166103516, -89.595166103516),
        // Right side.
        (440, -25.482803343945314, 91.35, 103.25),
        // Corners.
        (
            420,
            -32.49260711669922,
            90.92455291748047,
            102.82455291748047,
        ),
        (
            1070,
            -31.907413482666016,
            -103.39625549316406,
            -91.49625549316406,
        ),
        (
            476,
            -13.674698829650879,
            89.68680572509766,
            101.58680572509766,
        ),
    ];

    #[test]
    fn randall_follows_libmelee_on_every_section_and_corner() {
        for (frame, height, left, right) in LIBMELEE {
            assert_eq!(
                randall_position(frame),
                (height, left, right),
                "frame {frame}"
            );
            // The same place one lap later.
            assert_eq!(
                randall_position(frame + RANDALL_CYCLE),
                (height, left, right)
            );
        }
    }

    #[test]
    fn randall_is_the_midpoint_as_slippi_ai_stores_it() {
        // numpy.float32 of slippi-ai's (x_left + x_right) / 2 and height.
        assert_eq!(randall(600), [51.64012, -13.64989]);
        assert_eq!(randall(1040), [-97.65, -21.310139]);
        assert_eq!(randall(1234), [-39.480446, -33.2489]);
        assert_eq!(randall(1016), [-95.96968, -13.679761]);
    }

    #[test]
    fn every_frame_of_the_lap_has_a_place() {
        for frame in 0..RANDALL_CYCLE {
            let (height, left, right) = randall_position(frame);
            assert!((-34.0..-13.0).contains(&height), "frame {frame}: {height}");
            assert!((right - left - RANDALL_WIDTH).abs() < 1e-9, "frame {frame}");
            assert!((-104.0..104.0).contains(&left), "frame {frame}: {left}");
        }
    }

    #[test]
    fn only_each_stage_gets_its_own_state() {
        let yoshis = stage_state(YOSHIS_STORY, 600, Some([1.0, 2.0]));
        assert_eq!(yoshis.randall, randall(600));
        assert_eq!(yoshis.fod_platforms, [0.0; 2]);
        let fod = stage_state(FOUNTAIN_OF_DREAMS, 600, Some([25.5, 28.0]));
        assert_eq!((fod.randall, fod.fod_platforms), ([0.0; 2], [25.5, 28.0]));
        let old_fod = stage_state(FOUNTAIN_OF_DREAMS, 600, None);
        assert_eq!(old_fod, StageState::NONE);
        assert_eq!(stage_state(31, 600, Some([1.0, 2.0])), StageState::NONE);
    }

    #[test]
    fn platform_heights_accumulate_event_by_event() {
        // Four recorded frames: none, the right platform moves, both move
        // (left twice: the last event wins), none.
        let offsets = [0, 0, 1, 4, 4];
        let platforms = [FOD_RIGHT, FOD_LEFT, FOD_RIGHT, FOD_LEFT];
        let heights = [27.5, 19.0, 27.0, 18.5];
        let got = fod_platform_heights(&offsets, &platforms, &heights, 4).unwrap();
        assert_eq!(
            got,
            [[20.0, 28.0], [20.0, 27.5], [18.5, 27.0], [18.5, 27.0]]
        );
        // Offsets that do not cover the frames, or point past the events.
        assert!(fod_platform_heights(&offsets, &platforms, &heights, 3).is_err());
        assert!(fod_platform_heights(&[0, 9], &platforms, &heights, 1).is_err());
        assert!(fod_platform_heights(&[0, -1], &platforms, &heights, 1).is_err());
    }
}
