//! A tiny load run: the real binary with `examples/bench-fake.toml`, driven by the load
//! generator in-process (n = 200, c = 16). Checks the report's counts and shape, never
//! its timings; then that `/metrics` shows what the run did.

#[path = "../../test_support.rs"]
mod support;

use std::path::Path;

use clinker_bench::BenchOptions;
use support::{Server, TestResult};

#[test]
fn load_run_on_the_fake_driver() -> TestResult {
    let dir = tempfile::tempdir()?;
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bench-fake.toml");
    let config = std::fs::read_to_string(config)?;
    let server = Server::start(dir.path(), &config)?;
    let pid = server.pid();

    let mut opts = BenchOptions::new(&server.base_url());
    opts.n = 200;
    opts.concurrency = 16;
    opts.pid = Some(pid);
    opts.list_repeat = 3;
    opts.timeout = 120;
    opts.no_progress = true;
    let report = actix_rt::System::new().block_on(clinker_bench::run(&opts));
    let report = report.map_err(|e| format!("{e}\n{}", server.log_text()))?;
    eprintln!("{}", report.render());

    assert_eq!(report.created, 200, "{:?}", report.error_samples);
    assert_eq!(report.create_errors, 0);
    assert_eq!(report.available, 200);
    assert_eq!(report.errored, 0);
    assert!(!report.timed_out);
    assert_eq!(report.listed, 200);
    assert_eq!(report.deleted, 200, "{:?}", report.error_samples);
    assert_eq!(report.delete_errors, 0);
    assert_eq!(report.remaining_after_delete, 0);
    assert!(report.complete());
    assert!(report.volumes_per_second > 0.0);
    assert!(report.creates_per_second > 0.0);
    assert!(report.deletes_per_second > 0.0);
    for (call, want) in [
        ("create", 200),
        ("delete", 200),
        ("list_detail_1000", 1),
        ("list_detail_1000_first", 3),
        ("list_summary_100", 3),
    ] {
        let l = report
            .latency
            .get(call)
            .ok_or_else(|| format!("no latency for {call}"))?;
        assert_eq!(l.count, want, "{call}");
        assert!(
            l.p50_ms <= l.p95_ms && l.p95_ms <= l.p99_ms && l.p99_ms <= l.max_ms,
            "{call}: {l:?}"
        );
    }
    assert!(report.latency.contains_key("wait_list_detail_1000"));
    assert!(report.latency.contains_key("gone_list_1000"));
    let cost = report.server.ok_or("no server figures despite --pid")?;
    assert!(cost.total_cpu_seconds >= 0.0 && cost.create_cpu_seconds_per_volume >= 0.0);
    assert!(cost.peak_rss_mib > 0.0 && cost.peak_rss_mib >= cost.start_rss_mib);

    let json = serde_json::to_string(&report)?;
    let back: clinker_bench::report::BenchReport = serde_json::from_str(&json)?;
    assert_eq!(
        (back.created, back.deleted, back.latency.len()),
        (report.created, report.deleted, report.latency.len())
    );

    // Metrics name nodes and pools: on the API's port, for admins only.
    let metrics_of =
        |token| actix_rt::System::new().block_on(get(&server.base_url(), "/metrics", token));
    let (status, _) = metrics_of(None)?;
    assert_eq!(status, 401);
    let (status, metrics) = metrics_of(Some("admin:5e2c0a7d4b3f4e1a9c8d7b6a5f4e3d2c"))?;
    assert_eq!(status, 200, "{metrics}");
    for want in [
        r#"clinker_http_requests_total{method="POST",route="/v3/{project_id}/volumes",status="202"} 200"#,
        r#"clinker_flow_duration_seconds_count{flow="volume_create_api",outcome="SUCCESS"} 200"#,
        r#"clinker_flow_task_duration_seconds_count{flow="volume_create_api",task="QuotaReserveTask",outcome="success"} 200"#,
        r#"clinker_scheduler_decisions_total{outcome="placed"} 200"#,
        r#"clinker_pool_capacity_gb{node="bench-fake",pool="fake",kind="total"}"#,
    ] {
        assert!(metrics.contains(want), "/metrics lacks {want}:\n{metrics}");
    }
    Ok(())
}

/// `GET url/path`: the status and the body.
async fn get(url: &str, path: &str, token: Option<&str>) -> TestResult<(u16, String)> {
    let mut req = awc::Client::default().get(format!("{url}{path}"));
    if let Some(t) = token {
        req = req.insert_header(("X-Auth-Token", t));
    }
    let mut res = req.send().await.map_err(|e| e.to_string())?;
    let body = res.body().limit(16 << 20).await?;
    Ok((
        res.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    ))
}
