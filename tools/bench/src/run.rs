//! The phases of a load run: creates, waits, lists, deletes.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::client::{self, Api};
use super::procstat::{self, ProcSample, Target};
use super::report::{BenchReport, Latencies, ProcessCost};
use super::{BenchError, BenchOptions, seed};

pub(super) struct Runner<'a> {
    pub(super) opts: &'a BenchOptions,
    pub(super) api: Api,
    pub(super) latencies: RefCell<BTreeMap<&'static str, Latencies>>,
    pub(super) errors: RefCell<Vec<String>>,
    pub(super) server: Option<Target>,
    pub(super) show_progress: bool,
}

/// How a wait for `available` ended.
struct Availability {
    available: usize,
    errored: usize,
    timed_out: bool,
    at: Instant,
}

impl Runner<'_> {
    /// Runs every phase and builds the report.
    pub(super) async fn go(
        &self,
        project: String,
        started_at: String,
    ) -> Result<BenchReport, BenchError> {
        let opts = self.opts;
        let client0 = procstat::sample(Target::Current)?;
        let server0 = self.sample_server()?;
        let mut owned: Vec<String> = Vec::new();

        let mut timed_out = false;
        let preload_start = Instant::now();
        let preloaded_through = match (opts.preload, &opts.seed_db) {
            (0, _) => "",
            (_, Some(_)) => "database",
            (_, None) => "api",
        };
        if let (true, Some(url)) = (opts.preload > 0, &opts.seed_db) {
            owned.extend(seed::seed(url, &project, opts.preload, opts.size)?);
        } else if opts.preload > 0 {
            let (ids, errors) = self
                .create_many(opts.preload, "preload", "preload_create")
                .await;
            if ids.is_empty() {
                return Err(self.first_error(errors));
            }
            let set: HashSet<String> = ids.iter().cloned().collect();
            let wait = self
                .wait_available(&set, "preload_wait_list_detail_1000", "preload wait")
                .await?;
            timed_out |= wait.timed_out;
            owned.extend(ids);
        }

        let preload_seconds = preload_start.elapsed().as_secs_f64();
        let n = if opts.list_only { 0 } else { opts.n };
        let create_start = Instant::now();
        let server_c0 = self.sample_server()?;
        let (ids, create_errors) = if n > 0 {
            self.create_many(n, "bench", "create").await
        } else {
            (Vec::new(), 0)
        };
        if n > 0 && ids.is_empty() {
            return Err(self.first_error(create_errors));
        }
        let create_phase = create_start.elapsed();
        let set: HashSet<String> = ids.iter().cloned().collect();
        let wait = if set.is_empty() {
            Availability {
                available: 0,
                errored: 0,
                timed_out: false,
                at: Instant::now(),
            }
        } else {
            self.wait_available(&set, "wait_list_detail_1000", "wait")
                .await?
        };
        let end_to_end = wait.at.saturating_duration_since(create_start);
        let server_c1 = self.sample_server()?;
        timed_out |= wait.timed_out;
        let created = ids.len();
        owned.extend(ids);

        let listed = self.lists().await?;

        let (mut deleted, mut delete_errors, mut remaining) = (0, 0, 0);
        let mut delete_e2e = Duration::ZERO;
        let server_d0 = self.sample_server()?;
        if !opts.skip_delete && !owned.is_empty() {
            let delete_start = Instant::now();
            (deleted, delete_errors) = self.delete_many(&owned).await;
            let gone = self.wait_gone(&owned).await?;
            remaining = gone.0;
            timed_out |= remaining > 0;
            delete_e2e = gone.1.saturating_duration_since(delete_start);
        }
        let server_d1 = self.sample_server()?;
        let client1 = procstat::sample(Target::Current)?;

        let per_second = |count: usize, d: Duration| {
            if d.is_zero() {
                0.0
            } else {
                count as f64 / d.as_secs_f64()
            }
        };
        let server = match (server0, server_c0, server_c1, server_d0, server_d1) {
            (Some(s0), Some(c0), Some(c1), Some(d0), Some(d1)) => Some(ProcessCost {
                create_cpu_seconds: c1.cpu_seconds - c0.cpu_seconds,
                create_cpu_seconds_per_volume: if created == 0 {
                    0.0
                } else {
                    (c1.cpu_seconds - c0.cpu_seconds) / created as f64
                },
                delete_cpu_seconds: d1.cpu_seconds - d0.cpu_seconds,
                total_cpu_seconds: d1.cpu_seconds - s0.cpu_seconds,
                peak_rss_mib: d1.peak_rss_kib as f64 / 1024.0,
                start_rss_mib: s0.rss_kib as f64 / 1024.0,
            }),
            _ => None,
        };
        Ok(BenchReport {
            url: opts.url.clone(),
            project,
            n,
            concurrency: opts.concurrency,
            size_gb: opts.size,
            preloaded: opts.preload,
            preloaded_through: preloaded_through.to_string(),
            preload_seconds,
            started_at,
            created,
            create_errors,
            available: wait.available,
            errored: wait.errored,
            deleted,
            delete_errors,
            remaining_after_delete: remaining,
            timed_out,
            create_phase_seconds: create_phase.as_secs_f64(),
            end_to_end_seconds: end_to_end.as_secs_f64(),
            volumes_per_second: per_second(wait.available, end_to_end),
            creates_per_second: per_second(created, create_phase),
            delete_end_to_end_seconds: delete_e2e.as_secs_f64(),
            deletes_per_second: per_second(deleted.saturating_sub(remaining), delete_e2e),
            listed,
            latency: self
                .latencies
                .borrow()
                .iter()
                .filter(|(_, l)| l.summary().count > 0)
                .map(|(k, l)| (k.to_string(), l.summary()))
                .collect(),
            server,
            client_cpu_seconds: client1.cpu_seconds - client0.cpu_seconds,
            error_samples: self.errors.borrow().clone(),
        })
    }

    fn sample_server(&self) -> Result<Option<ProcSample>, BenchError> {
        self.server.map(procstat::sample).transpose()
    }

    fn record(&self, call: &'static str, took: Duration) {
        if let Some(l) = self.latencies.borrow_mut().get_mut(call) {
            l.record(took);
        }
    }

    fn note_error(&self, e: &BenchError) {
        let mut errors = self.errors.borrow_mut();
        if errors.len() < 5 {
            let hint = match e {
                BenchError::Http { status: 413, .. } => {
                    " (the server must run with [quota] volumes = -1 and gigabytes = -1, \
                     as in examples/bench-fake.toml)"
                }
                _ => "",
            };
            errors.push(format!("{e}{hint}"));
        }
    }

    fn first_error(&self, errors: usize) -> BenchError {
        let first = self.errors.borrow().first().cloned().unwrap_or_default();
        BenchError::Invalid(format!("every create failed ({errors} errors): {first}"))
    }

    fn bar(&self, len: usize, what: &'static str) -> ProgressBar {
        if !self.show_progress {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(len as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>13} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})",
        ) {
            bar.set_style(style);
        }
        bar.set_message(what);
        bar
    }

    /// Creates `count` volumes at the run's concurrency; returns the ids and the errors.
    async fn create_many(
        &self,
        count: usize,
        prefix: &'static str,
        call: &'static str,
    ) -> (Vec<String>, usize) {
        let bar = self.bar(
            count,
            if call == "create" {
                "create"
            } else {
                "preload"
            },
        );
        let ids = RefCell::new(Vec::with_capacity(count));
        let errors = RefCell::new(0usize);
        futures_util::stream::iter(0..count)
            .for_each_concurrent(self.opts.concurrency, |i| {
                let (ids, errors, bar) = (&ids, &errors, &bar);
                async move {
                    let name = format!("{prefix}-{i}");
                    let sent = Instant::now();
                    match self.api.create(&name, self.opts.size).await {
                        Ok(id) => {
                            self.record(call, sent.elapsed());
                            ids.borrow_mut().push(id);
                        }
                        Err(e) => {
                            self.note_error(&e);
                            *errors.borrow_mut() += 1;
                        }
                    }
                    bar.inc(1);
                }
            })
            .await;
        bar.finish_and_clear();
        (ids.into_inner(), errors.into_inner())
    }

    /// Lists every page of `volumes` or `volumes/detail`, recording each page's latency.
    async fn walk(
        &self,
        detail: bool,
        limit: u32,
        call: &'static str,
    ) -> Result<Vec<client::Listed>, BenchError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let sent = Instant::now();
            let page = self.api.list_page(detail, limit, marker.as_deref()).await?;
            self.record(call, sent.elapsed());
            let full = page.len() as u32 >= limit;
            marker = page.last().map(|v| v.id.clone());
            all.extend(page);
            if !full || marker.is_none() {
                return Ok(all);
            }
        }
    }

    /// Lists until every volume of `ids` is `available` or `error`, or the timeout.
    async fn wait_available(
        &self,
        ids: &HashSet<String>,
        call: &'static str,
        what: &'static str,
    ) -> Result<Availability, BenchError> {
        let deadline = Instant::now() + Duration::from_secs(self.opts.timeout);
        let bar = self.bar(ids.len(), what);
        loop {
            let listed = self.walk(true, 1000, call).await?;
            let at = Instant::now();
            let (mut available, mut errored) = (0, 0);
            for v in listed.iter().filter(|v| ids.contains(&v.id)) {
                match v.status.as_deref() {
                    Some("available") => available += 1,
                    Some("error") => errored += 1,
                    _ => {}
                }
            }
            bar.set_position((available + errored) as u64);
            let done = available + errored >= ids.len();
            if done || at >= deadline {
                bar.finish_and_clear();
                return Ok(Availability {
                    available,
                    errored,
                    timed_out: !done,
                    at,
                });
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The measured lists; returns how many volumes the project holds.
    async fn lists(&self) -> Result<usize, BenchError> {
        let listed = self.walk(true, 1000, "list_detail_1000").await?.len();
        for _ in 0..self.opts.list_repeat {
            let sent = Instant::now();
            self.api.list_page(true, 1000, None).await?;
            self.record("list_detail_1000_first", sent.elapsed());
        }
        self.walk(false, 100, "list_summary_100").await?;
        Ok(listed)
    }

    /// Deletes `ids` at the run's concurrency; returns (accepted, errors).
    async fn delete_many(&self, ids: &[String]) -> (usize, usize) {
        let bar = self.bar(ids.len(), "delete");
        let counts = RefCell::new((0usize, 0usize));
        futures_util::stream::iter(ids)
            .for_each_concurrent(self.opts.concurrency, |id| {
                let (counts, bar) = (&counts, &bar);
                async move {
                    let sent = Instant::now();
                    match self.api.delete(id).await {
                        Ok(()) => {
                            self.record("delete", sent.elapsed());
                            counts.borrow_mut().0 += 1;
                        }
                        Err(e) => {
                            self.note_error(&e);
                            counts.borrow_mut().1 += 1;
                        }
                    }
                    bar.inc(1);
                }
            })
            .await;
        bar.finish_and_clear();
        counts.into_inner()
    }

    /// Lists until none of `ids` is left, or the timeout; returns how many are left and
    /// when the last list ended.
    async fn wait_gone(&self, ids: &[String]) -> Result<(usize, Instant), BenchError> {
        let deadline = Instant::now() + Duration::from_secs(self.opts.timeout);
        let ours: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let bar = self.bar(ids.len(), "wait gone");
        loop {
            let listed = self.walk(false, 1000, "gone_list_1000").await?;
            let at = Instant::now();
            let left = listed
                .iter()
                .filter(|v| ours.contains(v.id.as_str()))
                .count();
            bar.set_position((ids.len() - left.min(ids.len())) as u64);
            if left == 0 || at >= deadline {
                bar.finish_and_clear();
                return Ok((left, at));
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
