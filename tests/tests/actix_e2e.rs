//! End-to-end: the actix demo (promenade-actix) served on 127.0.0.1, loaded over real HTTP,
//! scraped by a real Prometheus, checked by promtool and the Python OpenMetrics parser.
#![allow(clippy::unwrap_used)] // test helpers: failing loudly is the point

mod common;

use std::time::{Duration, Instant};

use common::{ActixDemoServer, Demo};
use promenade_core::encoding::negotiate;
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PROMTOOL, PYTHON_PROMETHEUS_CLIENT, PrometheusServer, ScrapeTarget,
    find_family, http_get, http_request, or_skip, promtool_check_metrics, python_openmetrics_parse,
    require_tool,
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

/// The Accept headers of SPEC-CHECKLIST F1–F3.
const ACCEPT_HEADERS: &[&str] = &[
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;q=0.1",
    "text/plain;version=0.0.4;q=1,*/*;q=0.1",
    "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/openmetrics-text;version=1.0.0;q=0.75,application/openmetrics-text;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=2",
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;escaping=allow-utf-8;q=0.2",
];

fn warm_up(demo: &ActixDemoServer) {
    for path in ["/", "/users/1", "/no/such/path", "/stream"] {
        http_get(&demo.url(path), &[]).unwrap();
    }
    http_request("POST", &demo.url("/echo"), &[], b"x").unwrap();
}

#[test]
fn scrape_route_answers_every_prometheus_accept_header() {
    let demo = ActixDemoServer::start();
    warm_up(&demo);
    for accept in ACCEPT_HEADERS {
        let resp = http_get(&demo.url("/metrics"), &[("accept", accept)]).unwrap();
        assert_eq!(resp.status, 200);
        let ct = resp.header("content-type").unwrap();
        assert_eq!(
            ct,
            negotiate(Some(accept)).content_type(),
            "Accept: {accept}"
        );
        if ct.starts_with("application/vnd.google.protobuf;") {
            // Protobuf-first Accept (native histograms on): the body must decode.
            let families = promenade_core::encoding::protobuf::decode_delimited(&resp.body)
                .expect("delimited protobuf body");
            assert!(
                families
                    .iter()
                    .any(|f| f.name.as_deref() == Some("http_requests_total")),
                "Accept: {accept}"
            );
            assert!(accept.starts_with("application/vnd.google.protobuf"));
        } else {
            assert!(
                ct.starts_with("application/openmetrics-text; version=")
                    || ct.starts_with("text/plain; version=0.0.4"),
                "{ct}"
            );
        }
    }
    let resp = http_get(&demo.url("/metrics"), &[]).unwrap();
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
    );
}

#[test]
fn promtool_accepts_the_actix_text_output() {
    require_tool!(PROMTOOL);
    let demo = ActixDemoServer::start();
    warm_up(&demo);
    let text = http_get(
        &demo.url("/metrics"),
        &[("accept", "text/plain;version=0.0.4")],
    )
    .unwrap()
    .text();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/users/{id}",status="200"} 1"#)
    );
    promtool_check_metrics(&text).unwrap();
}

#[test]
fn python_parser_accepts_the_actix_openmetrics_output() {
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let demo = ActixDemoServer::start();
    warm_up(&demo);
    let resp = http_get(&demo.url("/metrics"), &[("accept", ACCEPT_HEADERS[0])]).unwrap();
    assert!(
        resp.header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    let families = python_openmetrics_parse(&resp.text()).unwrap();
    let requests = find_family(&families, "http_requests").expect("http_requests family");
    assert!(
        requests
            .sample(
                "http_requests_total",
                &[
                    ("method", "GET"),
                    ("route", "/users/{id}"),
                    ("status", "200")
                ]
            )
            .is_some_and(|s| s.value == 1.0)
    );
    assert!(find_family(&families, "http_request_duration_seconds").is_some());
}
