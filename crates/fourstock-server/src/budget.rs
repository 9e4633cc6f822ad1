//! The latency budget: when a frame's reply is due, and what is sent when
//! inference has not finished by then.

use std::str::FromStr;
use std::time::{Duration, Instant};

use fourstock_proto::ControllerState;

/// What a late reply carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FallbackMode {
    /// The controller last sent for that port: a held input stays held.
    #[default]
    RepeatLast,
    /// Nothing pressed, sticks centred.
    Neutral,
}

impl FallbackMode {
    pub fn controller(self, last_sent: ControllerState) -> ControllerState {
        match self {
            FallbackMode::RepeatLast => last_sent,
            FallbackMode::Neutral => ControllerState::NEUTRAL,
        }
    }
}

impl FromStr for FallbackMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "repeat" | "repeat-last" => Ok(FallbackMode::RepeatLast),
            "neutral" => Ok(FallbackMode::Neutral),
            other => Err(format!("unknown fallback {other:?}: use repeat or neutral")),
        }
    }
}

/// The latency budget in force for one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    limit: Duration,
}

impl Budget {
    /// The stricter of the server's budget and the one a client asked for.
    pub fn negotiate(server: Duration, requested_us: Option<u32>) -> Budget {
        let limit = match requested_us {
            Some(us) => server.min(Duration::from_micros(us as u64)),
            None => server,
        };
        Budget { limit }
    }

    pub fn limit_us(&self) -> u32 {
        self.limit.as_micros().min(u32::MAX as u128) as u32
    }

    /// When to give up waiting for inference on a frame read at `read_at`.
    ///
    /// tokio's timers have millisecond resolution: a sleep wakes on the
    /// first tick at or after its deadline, up to a millisecond late. The
    /// wait therefore ends two ticks (at most half the budget) before the
    /// budget runs out, so the fallback goes out inside the budget.
    pub fn give_up_at(&self, read_at: Instant) -> Instant {
        let margin = Duration::from_millis(2).min(self.limit / 2);
        read_at + self.limit - margin
    }
}
