//! End to end: a real Prometheus scrapes the axum demo while the test sends load; after
//! the load, Prometheus's `sum(http_requests_total)` equals exactly what the test sent.

mod common;

use std::time::{Duration, Instant};

use common::*;
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PrometheusServer, ScrapeTarget, http_get, http_request, or_skip,
};

#[test]
fn prometheus_sees_exactly_the_requests_sent() {
    const JOB: &str = "axum-demo";
    const ROUNDS: usize = 150;
    const TIME_LIMIT: Duration = Duration::from_secs(60);
    let demo = AxumDemoServer::start();
    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new(
        JOB,
        demo.port()
    )]));
    prom.wait_for_up(JOB, FIRST_SCRAPE_TIMEOUT).unwrap();

    // Load while Prometheus keeps scraping (1 s interval); bounded in count and time.
    let started = Instant::now();
    let mut sent = 0u32;
    let mut errors = 0u32;
    for i in 0..ROUNDS {
        if started.elapsed() > TIME_LIMIT {
            break;
        }
        let status = |r: Result<promenade_tests::HttpResponse, String>| r.unwrap().status;
        assert_eq!(status(http_get(&demo.url("/"), &[])), 200);
        assert_eq!(
            status(http_get(&demo.url(&format!("/users/{i}")), &[])),
            200
        );
        assert_eq!(
            status(http_request("POST", &demo.url("/echo"), &[], b"x")),
            200
        );
        assert_eq!(status(http_get(&demo.url("/slow?ms=2"), &[])), 200);
        assert_eq!(
            status(http_get(&demo.url(&format!("/missing/{i}")), &[])),
            404
        );
        sent += 5;
        if i % 50 == 0 {
            assert_eq!(status(http_get(&demo.url("/panic"), &[])), 500);
            sent += 1;
            errors += 1;
        }
    }
    assert_eq!(
        sent as usize,
        ROUNDS * 5 + ROUNDS.div_ceil(50),
        "load loop hit its time limit"
    );

    // Wait for a scrape taken after the load ended.
    let total = prom
        .wait_for_value(
            &format!("sum(http_requests_total{{job=\"{JOB}\"}})"),
            |v| v == f64::from(sent),
            FIRST_SCRAPE_TIMEOUT,
        )
        .unwrap();
    assert_eq!(total, f64::from(sent));
    let five_hundreds = prom
        .query_scalar(&format!(
            "sum(http_requests_total{{job=\"{JOB}\",status=\"500\"}})"
        ))
        .unwrap();
    assert_eq!(five_hundreds, f64::from(errors));
    let unmatched = prom
        .query_scalar(&format!(
            "sum(http_requests_total{{job=\"{JOB}\",route=\"unmatched\"}})"
        ))
        .unwrap();
    assert_eq!(unmatched, ROUNDS as f64);
    assert_eq!(
        prom.query_scalar(&format!("sum(http_requests_in_flight{{job=\"{JOB}\"}})")),
        Some(0.0)
    );
    // The histogram agrees with the counter, and /metrics itself is not counted.
    assert_eq!(
        prom.query_scalar(&format!(
            "sum(http_request_duration_seconds_count{{job=\"{JOB}\"}})"
        )),
        Some(f64::from(sent))
    );
    assert_eq!(
        prom.query_scalar(&format!(
            "count(http_requests_total{{job=\"{JOB}\",route=\"/metrics\"}})"
        )),
        None
    );
}
