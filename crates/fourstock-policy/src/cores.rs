//! How many cores a front end may use: what its thread counts default to.
//!
//! An arena says how many cores a bot has in `UMI_CORES` (umi-melee sets it
//! from `--cpus` and `--cpuset-cpus`); that wins. Otherwise it is what the
//! kernel allows this process, as [`std::thread::available_parallelism`]
//! counts it: the affinity mask (a container's `--cpuset-cpus`) and the
//! cgroup CPU quota (`--cpus`, rounded down, at least 1), on cgroup v1 and
//! v2 alike. Without either, one.

use std::fmt;
use std::num::NonZeroUsize;

/// The variable an arena sets to the bot's core count.
pub const UMI_CORES: &str = "UMI_CORES";

/// A core count and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cores {
    pub count: usize,
    pub source: CoreSource,
    /// A `UMI_CORES` that was set but is not a positive whole number, and so
    /// was ignored; worth a warning.
    pub rejected: Option<String>,
}

/// Where a [`Cores`] count came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreSource {
    /// The arena's `UMI_CORES`.
    UmiCores,
    /// The CPUs this process may run on: affinity and cgroup quota.
    CpuLimit,
    /// Neither could be read: one core.
    Unknown,
}

impl fmt::Display for CoreSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CoreSource::UmiCores => "UMI_CORES",
            CoreSource::CpuLimit => "the CPU limit (affinity and cgroup quota)",
            CoreSource::Unknown => "nothing readable, so one",
        })
    }
}

/// This process's cores: `UMI_CORES` if it is set to a positive whole
/// number, else the CPU limit, else 1.
pub fn cores() -> Cores {
    let umi = std::env::var_os(UMI_CORES).map(|v| v.to_string_lossy().into_owned());
    choose(umi.as_deref(), std::thread::available_parallelism().ok())
}

/// The rule of [`cores`], given what it reads: the value of `UMI_CORES`, if
/// set, and the CPU limit, if known.
pub fn choose(umi_cores: Option<&str>, limit: Option<NonZeroUsize>) -> Cores {
    let mut rejected = None;
    if let Some(text) = umi_cores {
        match text.trim().parse::<NonZeroUsize>() {
            Ok(n) => {
                return Cores {
                    count: n.get(),
                    source: CoreSource::UmiCores,
                    rejected: None,
                }
            }
            Err(_) => rejected = Some(text.to_owned()),
        }
    }
    match limit {
        Some(n) => Cores {
            count: n.get(),
            source: CoreSource::CpuLimit,
            rejected,
        },
        None => Cores {
            count: 1,
            source: CoreSource::Unknown,
            rejected,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(k: usize) -> Option<NonZeroUsize> {
        NonZeroUsize::new(k)
    }

    #[test]
    fn umi_cores_wins_over_the_cpu_limit() {
        let got = choose(Some("3"), n(8));
        assert_eq!((got.count, got.source), (3, CoreSource::UmiCores));
        assert_eq!(got.rejected, None);
        // Above the limit too: the arena knows what it granted.
        assert_eq!(choose(Some("16"), n(2)).count, 16);
        assert_eq!(choose(Some(" 2\n"), None).count, 2);
    }

    #[test]
    fn without_umi_cores_the_cpu_limit_counts() {
        let got = choose(None, n(2));
        assert_eq!((got.count, got.source), (2, CoreSource::CpuLimit));
        assert_eq!(got.rejected, None);
    }

    #[test]
    fn a_bad_umi_cores_is_ignored_and_reported() {
        for bad in ["", "0", "-1", "1.5", "two", "4 cores"] {
            let got = choose(Some(bad), n(2));
            assert_eq!(
                (got.count, got.source),
                (2, CoreSource::CpuLimit),
                "{bad:?}"
            );
            assert_eq!(got.rejected.as_deref(), Some(bad));
        }
    }

    #[test]
    fn nothing_known_is_one_core() {
        let got = choose(None, None);
        assert_eq!((got.count, got.source), (1, CoreSource::Unknown));
        assert_eq!(choose(Some("x"), None).count, 1);
    }
}
