//! Per-session counters and the latency histogram behind the summary line
//! a session logs when it ends; what an operator scrapes is
//! [`fourstock_telemetry::Telemetry`]'s.
//!
//! The histogram is what a session costs in memory, so it is kept small:
//! two significant digits (1% is plenty for a log line's p50 and p99) and
//! 32-bit counts (four billion frames is two years of play), about 10 KB
//! where three digits and 64-bit counts took 140 KB a session.

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
    latency_us: Histogram<u32>,
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
            // 1 us to 60 s at 2 significant digits.
            latency_us: Histogram::new_with_bounds(1, 60_000_000, 2)
                .expect("static histogram bounds are valid"),
        }
    }

    pub fn record_latency(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, 60_000_000);
        // Clamped into the bounds, so only a full count could fail: then
        // the count stays full.
        self.latency_us.saturating_record(us);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes a histogram's counts take.
    fn footprint<T: hdrhistogram::Counter>(histogram: &Histogram<T>) -> usize {
        histogram.distinct_values() * std::mem::size_of::<T>()
    }

    #[test]
    fn a_sessions_latency_histogram_takes_a_few_kilobytes() {
        let metrics = SessionMetrics::new();
        let bytes = footprint(&metrics.latency_us);
        assert!(bytes <= 16 * 1024, "{bytes} bytes a session");
    }

    #[test]
    fn percentiles_stay_within_one_percent() {
        let mut metrics = SessionMetrics::new();
        for us in 1..=10_000u64 {
            metrics.record_latency(Duration::from_micros(us));
        }
        let p50 = metrics.latency_percentile_us(50.0) as f64;
        let p99 = metrics.latency_percentile_us(99.0) as f64;
        assert!((p50 / 5_000.0 - 1.0).abs() <= 0.01, "p50 {p50}");
        assert!((p99 / 9_900.0 - 1.0).abs() <= 0.01, "p99 {p99}");
        assert!((metrics.latency_max_us() as f64 / 10_000.0 - 1.0).abs() <= 0.01);
    }
}
