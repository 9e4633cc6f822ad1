//! Keeping idle CPUs quick to wake, for `--cpu-wake-latency-us` of
//! `fourstock serve` and `fourstock umi`.
//!
//! Between two frames a paced session leaves the machine idle for 16 ms,
//! and an idle CPU sleeps: on a VM it halts and gives its core back to the
//! host, and each of the three thread wake-ups of a round trip then costs
//! tens of microseconds. Linux's PM QoS interface lets a process ask that
//! no CPU enter an idle state slower to leave than N microseconds; 0 keeps
//! idle CPUs polling. The request holds while `/dev/cpu_dma_latency` stays
//! open and ends when the daemon exits. It costs power: idle cores spin.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// The kernel's PM QoS device for CPU wake-up latency.
pub const DEVICE: &str = "/dev/cpu_dma_latency";

/// A held wake-up latency request; dropping it ends the request.
pub struct WakeLatency {
    _device: File,
}

impl WakeLatency {
    /// Asks that no CPU take longer than `max_us` microseconds to wake.
    /// Needs write access to [`DEVICE`] (root, or a device passed into the
    /// container).
    pub fn hold(max_us: u32) -> std::io::Result<WakeLatency> {
        WakeLatency::hold_at(Path::new(DEVICE), max_us)
    }

    /// [`WakeLatency::hold`], logging the outcome; `None` (after a warning)
    /// when the device cannot be written, so the caller plays without.
    pub fn try_hold(max_us: u32) -> Option<WakeLatency> {
        match WakeLatency::hold(max_us) {
            Ok(held) => {
                tracing::info!(max_us, "holding CPU wake-up latency through {DEVICE}");
                Some(held)
            }
            Err(e) => {
                tracing::warn!(
                    "cannot hold CPU wake-up latency through {DEVICE}: {e}; running without"
                );
                None
            }
        }
    }

    /// [`WakeLatency::hold`] through another file: the request is the
    /// value as a native-endian 32-bit integer.
    pub fn hold_at(device: &Path, max_us: u32) -> std::io::Result<WakeLatency> {
        let value = i32::try_from(max_us).unwrap_or(i32::MAX);
        let mut file = OpenOptions::new().write(true).open(device)?;
        file.write_all(&value.to_ne_bytes())?;
        Ok(WakeLatency { _device: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_a_native_32_bit_integer_and_a_missing_device_is_an_error() {
        let path = std::env::temp_dir().join(format!("fourstock-wake-{}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        let held = WakeLatency::hold_at(&path, 25).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), 25i32.to_ne_bytes());
        drop(held);
        std::fs::remove_file(&path).unwrap();
        assert!(WakeLatency::hold_at(&path, 0).is_err());
    }
}
