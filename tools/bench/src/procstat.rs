//! A process's CPU time and memory, read from `/proc` (Linux only).

use std::path::PathBuf;

use super::BenchError;

/// `/proc/<pid>/stat` counts CPU time in USER_HZ ticks, which the kernel fixes at 100 on
/// every Linux ABI this runs on (x86, arm), whatever the kernel's own HZ.
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// User plus system CPU seconds used so far.
    pub cpu_seconds: f64,
    /// Peak resident set (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// Current resident set (VmRSS), KiB.
    pub rss_kib: u64,
}

/// Which process: a pid, or this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `/proc/<pid>`.
    Pid(u32),
    /// `/proc/self`.
    Current,
}

impl Target {
    fn dir(self) -> PathBuf {
        match self {
            Target::Pid(p) => PathBuf::from(format!("/proc/{p}")),
            Target::Current => PathBuf::from("/proc/self"),
        }
    }
}

/// Reads CPU time and memory of `target`.
pub fn sample(target: Target) -> Result<ProcSample, BenchError> {
    let dir = target.dir();
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .map_err(|e| BenchError::Proc(format!("{}/{f}: {e}", dir.display())))
    };
    let stat = read("stat")?;
    let status = read("status")?;
    let cpu_seconds = cpu_of_stat(&stat)
        .ok_or_else(|| BenchError::Proc(format!("{}/stat: unreadable", dir.display())))?;
    Ok(ProcSample {
        cpu_seconds,
        peak_rss_kib: kib_of_status(&status, "VmHWM:").unwrap_or(0),
        rss_kib: kib_of_status(&status, "VmRSS:").unwrap_or(0),
    })
}

/// utime + stime in seconds. The command name (field 2) may hold spaces and parentheses,
/// so fields are counted after the last `)`: state is field 3, utime 14, stime 15.
pub fn cpu_of_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

/// The KiB figure of a `Key:   1234 kB` line of `/proc/<pid>/status`.
pub fn kib_of_status(status: &str, key: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let stat = "1234 (odd) name)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_of_stat(stat), Some(3.0));
        assert_eq!(cpu_of_stat("garbage"), None);
    }

    #[test]
    fn status_lines_give_kib() {
        let status = "Name:\tclinker\nVmHWM:\t   20480 kB\nVmRSS:\t  10240 kB\n";
        assert_eq!(kib_of_status(status, "VmHWM:"), Some(20480));
        assert_eq!(kib_of_status(status, "VmRSS:"), Some(10240));
        assert_eq!(kib_of_status(status, "VmSwap:"), None);
    }

    #[test]
    fn this_process_can_be_read() -> Result<(), BenchError> {
        let s = sample(Target::Current)?;
        assert!(s.rss_kib > 0 && s.peak_rss_kib >= s.rss_kib);
        Ok(())
    }
}
