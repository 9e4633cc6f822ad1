//! Where fourstock's threads run and how urgently: pinning to chosen CPUs
//! (`fourstock bench --cpus/--daemon-cpus`) and the daemon's
//! `--realtime-priority`.
//!
//! Linux keeps both per thread, and a new thread inherits its creator's,
//! so each is set on the calling thread before the threads it concerns are
//! spawned; [`pin_process`] covers a process that is already running by
//! setting every one of its threads. Written on `libc` directly: the two
//! system calls are all that is needed, and no crate wraps the scheduling
//! policy and nice value together.

use std::io;

/// A set of CPUs, written as Linux writes them: `0`, `1,3` or `0-3,8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

impl std::str::FromStr for CpuList {
    type Err = String;

    fn from_str(list: &str) -> Result<CpuList, String> {
        parse_cpu_list(list).map(CpuList)
    }
}

/// CPUs from a list such as `0`, `1,3` or `0-3,8`.
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("{list:?} is not a CPU list such as 0 or 1,3 or 0-3"))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi || hi >= libc::CPU_SETSIZE as usize {
            return Err(format!("{part:?} is not a CPU range"));
        }
        cpus.extend(lo..=hi);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// Pins the calling thread, and every thread it starts afterwards, to
/// `cpus`.
pub fn pin_current(cpus: &[usize]) -> io::Result<()> {
    pin_thread(0, cpus)
}

/// Pins every thread of the running process `pid` to `cpus`.
pub fn pin_process(pid: u32, cpus: &[usize]) -> io::Result<()> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let tid = task?.file_name().to_string_lossy().parse::<libc::pid_t>();
        if let Ok(tid) = tid {
            pin_thread(tid, cpus)?;
        }
    }
    Ok(())
}

fn pin_thread(tid: libc::pid_t, cpus: &[usize]) -> io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET is given
    // indices checked against CPU_SETSIZE, and sched_setaffinity reads
    // exactly size_of::<cpu_set_t>() bytes.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("CPU {cpu} is out of range"),
                ));
            }
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How much priority a thread got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Real-time, `SCHED_FIFO` at this priority: it runs before every
    /// ordinary thread on its CPU as soon as it wakes.
    Fifo(i32),
    /// An ordinary thread with this nice value.
    Nice(i32),
}

/// The `SCHED_FIFO` priority asked for: the lowest few are enough to come
/// before every ordinary thread, and leave the kernel's own real-time
/// threads above.
pub const FIFO_PRIORITY: i32 = 10;

/// The nice value asked for where real time is not allowed or not wanted.
pub const NICE: i32 = -10;

/// Makes the calling thread real-time (`SCHED_FIFO`), else nice
/// [`NICE`]; returns what it got, or why neither was allowed.
pub fn raise_to_realtime() -> io::Result<Priority> {
    let param = libc::sched_param {
        sched_priority: FIFO_PRIORITY,
    };
    // SAFETY: sched_setscheduler reads one sched_param; 0 is this thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } == 0 {
        return Ok(Priority::Fifo(FIFO_PRIORITY));
    }
    raise_nice()
}

/// Lowers the calling thread's nice value to [`NICE`].
pub fn raise_nice() -> io::Result<Priority> {
    // SAFETY: setpriority takes plain integers; on Linux PRIO_PROCESS with
    // 0 is the calling thread.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) } == 0 {
        Ok(Priority::Nice(NICE))
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The calling thread's priority now.
#[cfg(test)]
fn current() -> Priority {
    // SAFETY: both calls only read the calling thread's settings.
    unsafe {
        let policy = libc::sched_getscheduler(0);
        if policy == libc::SCHED_FIFO || policy == libc::SCHED_RR {
            let mut param = libc::sched_param { sched_priority: 0 };
            libc::sched_getparam(0, &mut param);
            Priority::Fifo(param.sched_priority)
        } else {
            *libc::__errno_location() = 0;
            Priority::Nice(libc::getpriority(libc::PRIO_PROCESS, 0))
        }
    }
}

/// The CPUs the calling thread may run on.
#[cfg(test)]
fn allowed() -> io::Result<Vec<usize>> {
    // SAFETY: sched_getaffinity writes at most size_of::<cpu_set_t>()
    // bytes into the set; CPU_ISSET reads indices below CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0").unwrap(), [0]);
        assert_eq!(parse_cpu_list("1,3").unwrap(), [1, 3]);
        assert_eq!(parse_cpu_list("3-5,0, 4").unwrap(), [0, 3, 4, 5]);
        for bad in ["", "a", "2-1", "1-", "-1", "0,,1", "99999"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pinning_a_thread_holds_and_is_inherited() {
        let first = allowed().unwrap()[0];
        // On a thread of its own, so the test harness's threads keep theirs.
        std::thread::spawn(move || {
            pin_current(&[first]).unwrap();
            assert_eq!(allowed().unwrap(), [first]);
            let inherited = std::thread::spawn(|| allowed().unwrap()).join().unwrap();
            assert_eq!(inherited, [first]);
        })
        .join()
        .unwrap();
        assert!(pin_current(&[libc::CPU_SETSIZE as usize]).is_err());
    }

    #[test]
    fn raising_priority_reports_what_it_got() {
        std::thread::spawn(|| {
            let before = current();
            match raise_to_realtime() {
                Ok(got) => assert_eq!(current(), got),
                // Not allowed here (no CAP_SYS_NICE): nothing changed.
                Err(_) => assert_eq!(current(), before),
            }
        })
        .join()
        .unwrap();
    }
}
