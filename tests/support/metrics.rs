//! Reading the figures a daemon counts, as an operator's scrape sees them.

use std::time::Duration;

use fourstock_telemetry::Telemetry;

/// The value of `series` in metrics text: the rest of the line that starts
/// with `series` and a space.
pub fn value<'a>(text: &'a str, series: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
}

/// Waits until the counter `series` reaches `at_least`. The daemon counts
/// an event just after it happens, so a test waits for the count (under
/// its own timeout) rather than for a guessed time.
pub async fn counted(telemetry: &Telemetry, series: &str, at_least: u64) {
    while value(&telemetry.encode(), series)
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        < at_least
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
