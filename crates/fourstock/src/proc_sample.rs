//! A process's memory and open files as Linux reports them: resident set
//! size from `/proc/PID/status` (`VmRSS`) and the entries of
//! `/proc/PID/fd`. `fourstock soak` samples the daemon with it to show
//! whether anything grows with time rather than with load.

use std::io;

/// One reading of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    /// Resident set size, in KiB.
    pub rss_kib: u64,
    /// Open file descriptors.
    pub fds: u64,
}

/// Reads process `pid` now.
pub fn sample(pid: u32) -> io::Result<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib = rss_kib(&status).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no VmRSS line in /proc/{pid}/status"),
        )
    })?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok(Sample { rss_kib, fds })
}

/// `VmRSS` from the text of a `/proc/PID/status`, in KiB.
fn rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_size_line() {
        let status = "Name:\tfourstock\nVmPeak:\t  99 kB\nVmRSS:\t   36812 kB\nThreads:\t4\n";
        assert_eq!(rss_kib(status), Some(36812));
        assert_eq!(rss_kib("Name:\tx\n"), None);
        assert_eq!(rss_kib("VmRSS:\tlots kB\n"), None);
    }

    #[test]
    fn samples_this_process() {
        let own = sample(std::process::id()).unwrap();
        assert!(own.rss_kib > 0);
        // stdin, stdout and stderr at least.
        assert!(own.fds >= 3, "{own:?}");
        assert!(sample(u32::MAX).is_err());
    }
}
