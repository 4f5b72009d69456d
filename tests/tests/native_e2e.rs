//! Native histograms and exemplars, ingested by a real Prometheus: protobuf negotiated via
//! `--enable-feature=native-histograms`, exemplars via `exemplar-storage`.

use std::time::Duration;

use promenade_core::scrape::ScrapeHandler;
use promenade_core::{Buckets, NativeBuckets, Registry};
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PROMETHEUS, PrometheusOptions, PrometheusServer, ScrapeServer,
    ScrapeTarget, or_skip, require_tool,
};

#[test]
fn prometheus_ingests_native_histogram_and_exemplars() {
    require_tool!(PROMETHEUS);
    let registry = Registry::new();
    let h = registry
        .histogram(
            "work_duration_seconds",
            "Work duration.",
            Buckets::default().with_native(NativeBuckets::default()),
        )
        .unwrap();
    let jobs = registry.counter("jobs_total", "Jobs.").unwrap();
    let server = ScrapeServer::start(ScrapeHandler::new(registry.clone()));
    let options = PrometheusOptions::default()
        .enable_feature("native-histograms")
        .enable_feature("exemplar-storage");
    let prom = or_skip!(PrometheusServer::start_with(
        &[ScrapeTarget::new("native", server.port())],
        &options
    ));
    prom.wait_for_up("native", FIRST_SCRAPE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));

    // Observations spread over ~2 s so that rate() has several scrapes to work with.
    for round in 0..4 {
        for i in 1..=50 {
            h.observe(f64::from(i) * 0.01);
        }
        h.observe_with_exemplar(0.123, &[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")])
            .unwrap();
        jobs.inc_by_with_exemplar(1.0, &[("trace_id", "00f067aa0ba902b74bf92f3577b34da6")])
            .unwrap();
        if round < 3 {
            std::thread::sleep(Duration::from_millis(700));
        }
    }
    // A native histogram series (not `_bucket` series): the result carries "histogram".
    let data = (0..40)
        .find_map(|_| {
            let d = prom.query("work_duration_seconds").ok()?;
            let result = d["result"].as_array()?.first()?.clone();
            if result.get("histogram").is_some() && result["histogram"][1]["count"] == "204" {
                Some(result)
            } else {
                std::thread::sleep(Duration::from_millis(250));
                None
            }
        })
        .unwrap_or_else(|| {
            panic!(
                "no native histogram with 204 observations\n{}",
                prom.diagnostics()
            )
        });
    assert!(
        data["histogram"][1]["buckets"]
            .as_array()
            .is_some_and(|b| !b.is_empty()),
        "{data}"
    );
    let q = prom.wait_for_value(
        "histogram_quantile(0.5, rate(work_duration_seconds[1m]))",
        |v| v.is_finite(),
        Duration::from_secs(10),
    );
    let median = q.unwrap_or_else(|e| panic!("{e}"));
    assert!(median > 0.1 && median < 0.4, "median {median}");

    // Exemplars, through the query_exemplars API.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (start, end) = (format!("{}", now - 600.0), format!("{}", now + 60.0));
    let found = (0..40).any(|_| {
        let ok = prom
            .api_get(
                "query_exemplars",
                &[("query", "jobs_total"), ("start", &start), ("end", &end)],
            )
            .map(|d| d.to_string().contains("00f067aa0ba902b74bf92f3577b34da6"))
            .unwrap_or(false);
        if !ok {
            std::thread::sleep(Duration::from_millis(250));
        }
        ok
    });
    assert!(found, "counter exemplar not found\n{}", prom.diagnostics());
}
