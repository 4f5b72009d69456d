//! End-to-end: the actix demo (promenade-actix) served on 127.0.0.1, loaded over real HTTP,
//! scraped by a real Prometheus. Scrape-format conformance (every Accept header, promtool,
//! the Python OpenMetrics parser, protobuf) is in `conformance.rs`, for every demo.
#![allow(clippy::unwrap_used)] // test helpers: failing loudly is the point

mod common;

use std::time::{Duration, Instant};

use common::{ActixDemoServer, Demo};
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PrometheusServer, ScrapeTarget, http_request, or_skip,
};

#[test]
fn prometheus_scrapes_actix_demo_under_load_and_sees_every_request() {
    let demo = ActixDemoServer::start();
    let target = ScrapeTarget::new("actix", demo.port()).scrape_interval(Duration::from_secs(1));
    let prom = or_skip!(PrometheusServer::start(&[target]));
    prom.wait_for_up("actix", FIRST_SCRAPE_TIMEOUT).unwrap();

    // Load while Prometheus scrapes: 4 clients, bounded in count and time.
    const CLIENTS: usize = 4;
    const PER_CLIENT: usize = 300;
    let deadline = Instant::now() + Duration::from_secs(120);
    let sent: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let demo = &demo;
                s.spawn(move || {
                    let mut sent = 0;
                    for i in 0..PER_CLIENT {
                        assert!(Instant::now() < deadline, "load took too long");
                        let (method, path, status) = match i % 10 {
                            0 => ("POST", "/echo".to_owned(), 200),
                            1 => ("GET", "/slow?ms=5".to_owned(), 200),
                            2 if i % 50 == 2 => ("GET", "/stream".to_owned(), 200),
                            3 if i % 100 == 3 => ("GET", "/panic".to_owned(), 500),
                            4 => ("GET", format!("/no/such/{c}/{i}"), 404),
                            5..=7 => ("GET", format!("/users/{i}"), 200),
                            _ => ("GET", "/".to_owned(), 200),
                        };
                        let body: &[u8] = if method == "POST" { b"payload" } else { b"" };
                        let resp = http_request(method, &demo.url(&path), &[], body).unwrap();
                        assert_eq!(resp.status, status, "{method} {path}");
                        sent += 1;
                    }
                    sent
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(sent, CLIENTS * PER_CLIENT);

    let total = prom
        .wait_for_value(
            r#"sum(http_requests_total{job="actix"})"#,
            |v| v == sent as f64,
            Duration::from_secs(20),
        )
        .unwrap();
    assert_eq!(total, sent as f64);
    let panics = prom
        .query_scalar(r#"sum(http_requests_total{job="actix",route="/panic",status="500"})"#)
        .unwrap();
    assert_eq!(panics, (CLIENTS * PER_CLIENT / 100) as f64);
    let unmatched = prom
        .query_scalar(r#"sum(http_requests_total{job="actix",route="unmatched",status="404"})"#)
        .unwrap();
    assert_eq!(unmatched, (CLIENTS * PER_CLIENT / 10) as f64);
    let in_flight = prom
        .wait_for_value(
            r#"sum(http_requests_in_flight{job="actix"})"#,
            |v| v == 0.0,
            Duration::from_secs(10),
        )
        .unwrap();
    assert_eq!(in_flight, 0.0);
}
