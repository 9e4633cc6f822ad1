//! Per-session counters and the latency histogram behind the summary line
//! a session logs when it ends; what an operator scrapes is
//! [`fourstock_telemetry::Telemetry`]'s.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// What one session did.
pub struct SessionMetrics {
    /// Frame messages answered (steps and re-sends).
    pub frames: u64,
    /// Frames that stepped the policies.
    pub steps: u64,
    /// Frames on which at least one port's state was reset.
    pub resets: u64,
    /// Replies that were the fallback because inference missed the budget.
    pub late: u64,
    /// Rollback re-sends answered from the reply cache.
    pub resends: u64,
    /// Jumps forward in frame numbers, and the frames they skipped.
    pub gaps: u64,
    pub missing_frames: u64,
    /// Microseconds from reading a frame to sending its reply.
    latency_us: Histogram<u64>,
}

impl SessionMetrics {
    pub fn new() -> Self {
        SessionMetrics {
            frames: 0,
            steps: 0,
            resets: 0,
            late: 0,
            resends: 0,
            gaps: 0,
            missing_frames: 0,
            // 1 us to 60 s at 3 significant digits.
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("static histogram bounds are valid"),
        }
    }

    pub fn record_latency(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, 60_000_000);
        self.latency_us
            .record(us)
            .expect("value is clamped into the histogram's bounds");
    }

    pub fn latency_percentile_us(&self, percentile: f64) -> u64 {
        self.latency_us.value_at_percentile(percentile)
    }

    pub fn latency_max_us(&self) -> u64 {
        self.latency_us.max()
    }
}

impl Default for SessionMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frames={} steps={} resets={} late={} resends={} gaps={} missing_frames={} \
             latency_us p50={} p99={} max={}",
            self.frames,
            self.steps,
            self.resets,
            self.late,
            self.resends,
            self.gaps,
            self.missing_frames,
            self.latency_percentile_us(50.0),
            self.latency_percentile_us(99.0),
            self.latency_max_us(),
        )
    }
}
