//! What a load run measured: latency percentiles per call, throughput, server cost.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::BenchError;

/// Latencies are kept in microseconds, from 1 µs to 1 hour, with 3 significant digits.
const HIGHEST_US: u64 = 3_600_000_000;

/// Per-request latencies of one kind of call.
#[derive(Debug, Clone)]
pub struct Latencies(Histogram<u64>);

impl Latencies {
    /// An empty histogram.
    pub fn new() -> Result<Self, BenchError> {
        Histogram::new_with_bounds(1, HIGHEST_US, 3)
            .map(Self)
            .map_err(|e| BenchError::Invalid(format!("histogram: {e}")))
    }

    /// Records one request.
    pub fn record(&mut self, took: Duration) {
        let us = (took.as_micros() as u64).clamp(1, HIGHEST_US);
        // In bounds by the clamp above.
        let _ = self.0.record(us);
    }

    /// The percentiles, in milliseconds.
    pub fn summary(&self) -> LatencySummary {
        let ms = |us: u64| us as f64 / 1000.0;
        LatencySummary {
            count: self.0.len(),
            p50_ms: ms(self.0.value_at_quantile(0.50)),
            p95_ms: ms(self.0.value_at_quantile(0.95)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            max_ms: ms(self.0.max()),
            mean_ms: self.0.mean() / 1000.0,
        }
    }
}

/// Percentiles of one kind of call, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Requests measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
}

/// CPU and memory of the server (with `--pid`) or of the load generator itself.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProcessCost {
    /// CPU seconds (user + system) from the first create to the last `available` seen.
    pub create_cpu_seconds: f64,
    /// The same divided by the volumes created.
    pub create_cpu_seconds_per_volume: f64,
    /// CPU seconds from the first delete to the last volume gone (0 when skipped).
    pub delete_cpu_seconds: f64,
    /// CPU seconds over the whole run, lists included.
    pub total_cpu_seconds: f64,
    /// Peak resident set (VmHWM) at the end, MiB.
    pub peak_rss_mib: f64,
    /// Resident set at the start, MiB.
    pub start_rss_mib: f64,
}

/// Everything one run measured; `--json` writes it as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    /// Server URL.
    pub url: String,
    /// The project used (fresh unless `--project`).
    pub project: String,
    /// Volumes asked for in the measured create phase (0 with `--list-only`).
    pub n: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// GiB per volume.
    pub size_gb: u64,
    /// Volumes created before the measured phases (`--preload`).
    pub preloaded: usize,
    /// How they were made: `api`, `database` (`--seed-db`), or empty.
    pub preloaded_through: String,
    /// Seconds the preload took (until every preloaded volume was `available`).
    pub preload_seconds: f64,
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// Creates answered 202.
    pub created: usize,
    /// Creates refused or failed.
    pub create_errors: usize,
    /// Created volumes seen `available`.
    pub available: usize,
    /// Created volumes seen `error`.
    pub errored: usize,
    /// Deletes answered 202.
    pub deleted: usize,
    /// Deletes refused or failed.
    pub delete_errors: usize,
    /// Volumes still listed when the run gave up waiting for them to go (0: all gone).
    pub remaining_after_delete: usize,
    /// A wait gave up at `--timeout`.
    pub timed_out: bool,
    /// Seconds from the first create sent to the last create answered.
    pub create_phase_seconds: f64,
    /// Seconds from the first create sent to the last `available` seen.
    pub end_to_end_seconds: f64,
    /// Volumes `available` per second, end to end.
    pub volumes_per_second: f64,
    /// Creates answered per second during the create phase.
    pub creates_per_second: f64,
    /// Seconds from the first delete sent to the last volume gone.
    pub delete_end_to_end_seconds: f64,
    /// Volumes gone per second, end to end.
    pub deletes_per_second: f64,
    /// Volumes in the project when the lists ran.
    pub listed: usize,
    /// Per-request latency by call: `create`, `wait_list_detail_1000` (polling for
    /// `available`), `list_detail_1000` (full detail paging), `list_detail_1000_first`
    /// (first page, repeated), `list_summary_100` (full summary paging), `delete`,
    /// `gone_list_1000` (polling until empty).
    pub latency: BTreeMap<String, LatencySummary>,
    /// The server's cost, with `--pid`.
    pub server: Option<ProcessCost>,
    /// The load generator's own CPU seconds (it shares the machine with the server).
    pub client_cpu_seconds: f64,
    /// Up to 5 error messages, as received.
    pub error_samples: Vec<String>,
}

impl BenchReport {
    /// Percentiles are ordered and everything asked for was done.
    pub fn complete(&self) -> bool {
        self.create_errors == 0
            && self.delete_errors == 0
            && self.errored == 0
            && !self.timed_out
            && self.remaining_after_delete == 0
    }

    /// A human-readable summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "clinker bench: {} volumes of {} GiB at concurrency {} against {} (project {})",
            self.n, self.size_gb, self.concurrency, self.url, self.project
        );
        if self.preloaded > 0 {
            let _ = writeln!(
                s,
                "preloaded:   {} volumes through the {} in {:.2} s",
                self.preloaded, self.preloaded_through, self.preload_seconds
            );
        }
        let _ = writeln!(
            s,
            "created:     {} ok, {} errors; {} available, {} error",
            self.created, self.create_errors, self.available, self.errored
        );
        let _ = writeln!(
            s,
            "throughput:  {:.0} volumes/s end to end ({:.2} s), creates answered {:.0}/s ({:.2} s)",
            self.volumes_per_second,
            self.end_to_end_seconds,
            self.creates_per_second,
            self.create_phase_seconds
        );
        let _ = writeln!(
            s,
            "deleted:     {} ok, {} errors, {} remaining; {:.0} volumes/s gone ({:.2} s)",
            self.deleted,
            self.delete_errors,
            self.remaining_after_delete,
            self.deletes_per_second,
            self.delete_end_to_end_seconds
        );
        let _ = writeln!(
            s,
            "{:<26} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "count", "p50", "p95", "p99", "max"
        );
        for (name, l) in &self.latency {
            let _ = writeln!(
                s,
                "{:<26} {:>8} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                name, l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            );
        }
        if let Some(p) = &self.server {
            let _ = writeln!(
                s,
                "server:      {:.3} ms CPU per volume created ({:.2} s), {:.2} s deleting, {:.2} s in all; peak RSS {:.1} MiB (at start {:.1} MiB)",
                p.create_cpu_seconds_per_volume * 1000.0,
                p.create_cpu_seconds,
                p.delete_cpu_seconds,
                p.total_cpu_seconds,
                p.peak_rss_mib,
                p.start_rss_mib
            );
        }
        let _ = writeln!(s, "client:      {:.2} s CPU", self.client_cpu_seconds);
        if self.timed_out {
            let _ = writeln!(s, "TIMED OUT waiting");
        }
        for e in &self.error_samples {
            let _ = writeln!(s, "error: {e}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_out_in_milliseconds_and_ordered() -> Result<(), BenchError> {
        let mut l = Latencies::new()?;
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() < 0.1, "{s:?}");
        assert!(s.p50_ms <= s.p95_ms && s.p95_ms <= s.p99_ms && s.p99_ms <= s.max_ms);
        Ok(())
    }

    #[test]
    fn empty_histograms_summarise_to_zero() -> Result<(), BenchError> {
        let s = Latencies::new()?.summary();
        assert_eq!((s.count, s.p50_ms, s.max_ms), (0, 0.0, 0.0));
        Ok(())
    }
}
