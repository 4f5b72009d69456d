//! Native histograms end to end: a real Prometheus with native histograms enabled scrapes the
//! axum demo started with native request-duration histograms; requests carry W3C
//! `traceparent` headers.

mod common;

use std::time::Duration;

use common::*;
use promenade_examples::DemoOptions;
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PrometheusOptions, PrometheusServer, ScrapeTarget, http_get, or_skip,
};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn send_load(demo: &AxumDemoServer, rounds: u32) {
    let traceparent = format!("00-{TRACE_ID}-00f067aa0ba902b7-01");
    for i in 0..rounds {
        let resp = http_get(
            &demo.url(&format!("/users/{i}")),
            &[("traceparent", traceparent.as_str())],
        )
        .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(http_get(&demo.url("/slow?ms=3"), &[]).unwrap().status, 200);
    }
}

fn exemplar_found(prom: &PrometheusServer, query: &str) -> bool {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (start, end) = (format!("{}", now - 600.0), format!("{}", now + 60.0));
    prom.api_get(
        "query_exemplars",
        &[("query", query), ("start", &start), ("end", &end)],
    )
    .map(|d| d.to_string().contains(TRACE_ID))
    .unwrap_or(false)
}

#[test]
fn native_duration_histogram_and_traceparent_exemplars() {
    let demo = AxumDemoServer::start_with(DemoOptions {
        native: true,
        ..Default::default()
    });
    let options = PrometheusOptions::default()
        .enable_feature("native-histograms")
        .enable_feature("exemplar-storage");
    let prom = or_skip!(PrometheusServer::start_with(
        &[ScrapeTarget::new("axum-native", demo.port())],
        &options
    ));
    prom.wait_for_up("axum-native", FIRST_SCRAPE_TIMEOUT)
        .unwrap();
    for _ in 0..3 {
        send_load(&demo, 40);
        std::thread::sleep(Duration::from_millis(600));
    }
    let query = "http_request_duration_seconds{route=\"/users/{id}\"}";
    // A native histogram series, not `_bucket` series.
    let result = (0..40)
        .find_map(|_| {
            let data = prom.query(query).ok()?;
            let first = data["result"].as_array()?.first()?.clone();
            if first["histogram"][1]["count"] == "120" {
                return Some(first);
            }
            std::thread::sleep(Duration::from_millis(250));
            None
        })
        .unwrap_or_else(|| {
            panic!(
                "no native histogram with 120 observations\n{}",
                prom.diagnostics()
            )
        });
    assert!(
        result["histogram"][1]["buckets"]
            .as_array()
            .is_some_and(|b| !b.is_empty()),
        "{result}"
    );
    assert!(
        prom.series("http_request_duration_seconds_bucket")
            .unwrap()
            .is_empty(),
        "classic buckets were ingested instead"
    );
    let median = prom
        .wait_for_value(
            "histogram_quantile(0.5, sum(rate(http_request_duration_seconds[1m])))",
            |v| v.is_finite(),
            Duration::from_secs(10),
        )
        .unwrap();
    assert!(median > 0.0 && median < 1.0, "median {median}");

    // Exemplars from the sampled traceparent. Prometheus 2.42 keeps classic-bucket exemplars
    // only when it ingests classic buckets, so check through an OpenMetrics scrape as well.
    let native_exemplar = (0..12).any(|_| {
        let found = exemplar_found(&prom, "http_request_duration_seconds")
            || exemplar_found(&prom, "http_request_duration_seconds_bucket");
        if !found {
            std::thread::sleep(Duration::from_millis(250));
        }
        found
    });
    if !native_exemplar {
        let om = PrometheusOptions::default().enable_feature("exemplar-storage");
        let prom_om = or_skip!(PrometheusServer::start_with(
            &[ScrapeTarget::new("axum-om", demo.port())],
            &om
        ));
        prom_om
            .wait_for_up("axum-om", FIRST_SCRAPE_TIMEOUT)
            .unwrap();
        send_load(&demo, 5);
        let found = (0..40).any(|_| {
            let found = exemplar_found(&prom_om, "http_request_duration_seconds_bucket");
            if !found {
                std::thread::sleep(Duration::from_millis(250));
            }
            found
        });
        assert!(
            found,
            "traceparent exemplar not visible\n{}",
            prom_om.diagnostics()
        );
    }
}
