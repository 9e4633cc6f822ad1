//! What a replay holds, at a glance: version, stage, players, length, stock
//! losses, how it ended and whether it was played under competitive rules.

use std::collections::BTreeMap;
use std::path::Path;

use fourstock_proto::{melee, Frame};
use peppi::game::immutable::Game;
use peppi::game::PlayerType;
use serde::Serialize;

use crate::names;

/// Frames per second of NTSC Melee.
const FPS: f64 = 60.0;
/// The competitive ruleset.
const RULESET_STOCKS: u8 = 4;
const RULESET_TIMER_SECONDS: u32 = 8 * 60;
const RULESET_PLAYERS: usize = 2;

/// A replay's summary, as `fourstock inspect` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplaySummary {
    pub file: String,
    /// Slippi's format version, e.g. "3.14.0".
    pub slippi_version: String,
    pub stage: StageSummary,
    /// Every player, by port.
    pub players: Vec<PlayerSummary>,
    /// Distinct frames kept, rollback re-sends dropped.
    pub frames: usize,
    pub first_frame: Option<i32>,
    pub last_frame: Option<i32>,
    /// `frames / 60`.
    pub duration_seconds: f64,
    /// Every drop of a player's stock count, in frame order.
    pub stock_losses: Vec<StockLoss>,
    /// `None` when the replay has no game-end event.
    pub end: Option<GameEnd>,
    /// Whether items spawn (the item frequency is not "none").
    pub items: bool,
    /// The starting timer.
    pub timer_seconds: u32,
    /// `None` before Slippi 1.5, which does not record it.
    pub pal: Option<bool>,
    pub ruleset: RulesetFit,
    /// Recorded frames dropped because a later copy of the same frame
    /// number replaced them (netplay rollback).
    pub rollback_frames_dropped: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageSummary {
    pub id: u16,
    pub name: &'static str,
    /// One of the six competitive stages.
    pub legal: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlayerSummary {
    /// 1 to 4.
    pub port: u8,
    /// External character id chosen at the character select screen.
    pub character: u8,
    pub character_name: &'static str,
    pub kind: PlayerKind,
    pub start_stocks: u8,
    /// Slippi online connect code (3.9+), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_code: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlayerKind {
    Human,
    Cpu,
    Demo,
}

/// One player losing one or more stocks on one frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StockLoss {
    pub frame: i32,
    pub port: u8,
    /// Stocks left after the loss.
    pub stocks_left: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GameEnd {
    /// Slippi's end method: 0 unresolved, 1 time, 2 game, 3 resolved, 7 no contest.
    pub method: u8,
    pub name: &'static str,
    /// The port that quit with L+R+A+Start (2.0+), if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quit_by_port: Option<u8>,
}

/// Whether the game was played under the competitive ruleset: 2 players,
/// 4 stocks each, an 8-minute timer, no items, a legal stage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RulesetFit {
    pub competitive: bool,
    /// Why not, one line per rule broken; empty when it fits.
    pub reasons: Vec<String>,
}

impl ReplaySummary {
    /// How many times the daemon resets its recurrent state over this
    /// replay: once at match start and once per frame on which at least one
    /// player lost a stock.
    pub fn expected_resets(&self) -> usize {
        let mut frames: Vec<i32> = self.stock_losses.iter().map(|l| l.frame).collect();
        frames.dedup();
        1 + frames.len()
    }
}

/// Summarizes `game`, whose deduplicated frames are `frames`.
pub(crate) fn summarize(
    path: &Path,
    game: &Game,
    frames: &[Frame],
    rollback_dropped: usize,
) -> ReplaySummary {
    let start = &game.start;
    let players: Vec<PlayerSummary> = start
        .players
        .iter()
        .map(|p| PlayerSummary {
            port: u8::from(p.port) + 1,
            character: p.character,
            character_name: melee::character_name(p.character).unwrap_or("unknown character"),
            kind: match p.r#type {
                PlayerType::Human => PlayerKind::Human,
                PlayerType::Cpu => PlayerKind::Cpu,
                PlayerType::Demo => PlayerKind::Demo,
            },
            start_stocks: p.stocks,
            connect_code: p
                .netplay
                .as_ref()
                .map(|n| n.code.to_normalized())
                .filter(|code| !code.is_empty()),
        })
        .collect();
    let stage = StageSummary {
        id: start.stage,
        name: melee::stage_name(start.stage).unwrap_or("unknown stage"),
        legal: melee::LEGAL_STAGES.contains(&start.stage),
    };
    let items = start.item_spawn_frequency >= 0;
    let ruleset = ruleset(&players, &stage, items, start.timer);
    ReplaySummary {
        file: path.display().to_string(),
        slippi_version: start.slippi.version.to_string(),
        stage,
        players,
        frames: frames.len(),
        first_frame: frames.first().map(|f| f.frame),
        last_frame: frames.last().map(|f| f.frame),
        duration_seconds: frames.len() as f64 / FPS,
        stock_losses: stock_losses(frames),
        end: game.end.as_ref().map(|end| {
            let method = end.method as u8;
            GameEnd {
                method,
                name: names::end_method(method),
                quit_by_port: end.lras_initiator.flatten().map(|p| u8::from(p) + 1),
            }
        }),
        items,
        timer_seconds: start.timer,
        pal: start.is_pal,
        ruleset,
        rollback_frames_dropped: rollback_dropped,
    }
}

/// Every frame on which a leader's stock count is lower than on the last
/// frame that player appeared.
fn stock_losses(frames: &[Frame]) -> Vec<StockLoss> {
    let mut last: BTreeMap<u8, u8> = BTreeMap::new();
    let mut losses = Vec::new();
    for frame in frames {
        for player in frame.players.iter().filter(|p| !p.follower) {
            if let Some(before) = last.insert(player.port, player.stocks) {
                if player.stocks < before {
                    losses.push(StockLoss {
                        frame: frame.frame,
                        port: player.port,
                        stocks_left: player.stocks,
                    });
                }
            }
        }
    }
    losses
}

fn ruleset(players: &[PlayerSummary], stage: &StageSummary, items: bool, timer: u32) -> RulesetFit {
    let mut reasons = Vec::new();
    if players.len() != RULESET_PLAYERS {
        reasons.push(format!("{} players, not {RULESET_PLAYERS}", players.len()));
    }
    for p in players.iter().filter(|p| p.start_stocks != RULESET_STOCKS) {
        reasons.push(format!(
            "port {} starts with {} stocks, not {RULESET_STOCKS}",
            p.port, p.start_stocks
        ));
    }
    if timer != RULESET_TIMER_SECONDS {
        reasons.push(format!(
            "the timer is {timer} seconds, not {RULESET_TIMER_SECONDS}"
        ));
    }
    if items {
        reasons.push("items are on".to_string());
    }
    if !stage.legal {
        reasons.push(format!(
            "{} ({}) is not a legal stage",
            stage.name, stage.id
        ));
    }
    RulesetFit {
        competitive: reasons.is_empty(),
        reasons,
    }
}
