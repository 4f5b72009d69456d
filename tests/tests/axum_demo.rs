//! Acceptance tests of `promenade-tower` through the axum demo, served on 127.0.0.1:0 and
//! driven by a real HTTP client (ureq, keep-alive) and raw TCP sockets.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use promenade_tests::{
    PROMTOOL, PYTHON_PROMETHEUS_CLIENT, find_family, http_get, http_request,
    promtool_check_metrics, python_openmetrics_parse, require_tool,
};

const SETTLE: Duration = Duration::from_secs(5);

/// One line of the request mix: method, path, body, expected status, route label, count.
type MixLine = (
    &'static str,
    &'static str,
    &'static [u8],
    u16,
    &'static str,
    u32,
);

#[test]
fn known_mix_of_requests_is_counted_exactly() {
    let demo = DemoServer::start();
    // (method, path, body, expected status, route label), each sent `n` times.
    let mix: &[MixLine] = &[
        ("GET", "/", b"", 200, "/", 7),
        ("GET", "/users/1", b"", 200, "/users/{id}", 3),
        ("GET", "/users/abc", b"", 200, "/users/{id}", 2),
        ("HEAD", "/users/9", b"", 200, "/users/{id}", 2),
        ("POST", "/echo", b"payload", 200, "/echo", 3),
        ("GET", "/slow?ms=1", b"", 200, "/slow", 2),
        ("GET", "/stream", b"", 200, "/stream", 2),
        ("GET", "/panic", b"", 500, "/panic", 2),
        ("GET", "/nope", b"", 404, "unmatched", 4),
        ("DELETE", "/", b"", 405, "/", 1),
    ];
    let mut expected: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    let mut sent = 0.0;
    for (method, path, body, status, route, n) in mix {
        for _ in 0..*n {
            let resp = http_request(method, &demo.url(path), &[], body).unwrap();
            assert_eq!(resp.status, *status, "{method} {path}");
            if *path == "/echo" {
                assert_eq!(resp.body, *body);
            }
            sent += 1.0;
        }
        *expected
            .entry((method.to_string(), route.to_string(), status.to_string()))
            .or_default() += f64::from(*n);
    }
    let text = demo.scrape_until(SETTLE, |t| {
        total_in_flight(t) == 0.0
            && all_samples(t, "http_requests_total")
                .iter()
                .map(|s| s.1)
                .sum::<f64>()
                == sent
    });
    let mut got: BTreeMap<(String, String, String), f64> = BTreeMap::new();
    for (labels, value) in all_samples(&text, "http_requests_total") {
        let field = |k: &str| {
            let start = labels.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
            labels[start..].split('"').next().unwrap().to_owned()
        };
        got.insert((field("method"), field("route"), field("status")), value);
    }
    assert_eq!(got, expected, "{text}");
    assert_eq!(total_in_flight(&text), 0.0, "{text}");
    // The histogram counts the same requests.
    let hist: f64 = all_samples(&text, "http_request_duration_seconds_count")
        .iter()
        .map(|s| s.1)
        .sum();
    assert_eq!(hist, sent);
}

/// A tiny deterministic PRNG (xorshift), so the test needs no extra crate.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn ten_thousand_unmatched_requests_add_no_series() {
    const METHODS: [&str; 8] = [
        "GET", "POST", "PUT", "BREW", "get", "PROPFIND", "X-Y", "PATCH",
    ];
    const N: usize = 10_000;
    const TIME_LIMIT: Duration = Duration::from_secs(120);
    let demo = DemoServer::start();
    let mut client = RawClient::connect(demo.port()); // one keep-alive connection
    // Warm-up: one unmatched request per method creates every series this can produce.
    for m in METHODS {
        assert_eq!(client.request(m, "/warm/up"), 404);
    }
    let before = demo.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    let series_before = sample_lines(&before);

    let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
    let started = Instant::now();
    let mut sent = 0;
    while sent < N && started.elapsed() < TIME_LIMIT {
        let method = METHODS[(next(&mut rng) % METHODS.len() as u64) as usize];
        let path = format!(
            "/r{:x}/{:x}?q={:x}",
            next(&mut rng),
            next(&mut rng) % 1000,
            next(&mut rng)
        );
        assert_eq!(client.request(method, &path), 404, "{method} {path}");
        sent += 1;
    }
    assert_eq!(sent, N, "only {sent} requests within {TIME_LIMIT:?}");
    let after = demo.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    assert_eq!(sample_lines(&after), series_before, "{after}");
    let unmatched: f64 = all_samples(&after, "http_requests_total")
        .iter()
        .filter(|(l, _)| l.contains(r#"route="unmatched""#))
        .map(|s| s.1)
        .sum();
    assert_eq!(unmatched, (N + METHODS.len()) as f64);
    // Known methods keep their name, the others share `_OTHER`.
    assert!(requests(&after, "PUT", "unmatched", "404").is_some());
    assert!(requests(&after, "_OTHER", "unmatched", "404").is_some());
    assert!(!after.contains("BREW") && !after.contains("/r"), "{after}");
}

#[test]
fn client_disconnect_during_slow_records_499() {
    let demo = DemoServer::start();
    let mut conn = TcpStream::connect(("127.0.0.1", demo.port())).unwrap();
    conn.write_all(b"GET /slow?ms=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let text = demo.scrape_until(SETTLE, |t| {
        sample(
            t,
            "http_requests_in_flight",
            r#"method="GET",route="/slow""#,
        ) == Some(1.0)
    });
    assert_eq!(
        sample(
            &text,
            "http_requests_in_flight",
            r#"method="GET",route="/slow""#
        ),
        Some(1.0),
        "{text}"
    );
    drop(conn); // the client goes away mid-request
    let text = demo.scrape_until(SETTLE, |t| requests(t, "GET", "/slow", "499").is_some());
    assert_eq!(requests(&text, "GET", "/slow", "499"), Some(1.0), "{text}");
    assert_eq!(requests(&text, "GET", "/slow", "200"), None, "{text}");
    assert_eq!(total_in_flight(&text), 0.0, "{text}");
}

#[test]
fn panic_is_500_and_in_flight_returns_to_zero() {
    let demo = DemoServer::start();
    for _ in 0..3 {
        assert_eq!(http_get(&demo.url("/panic"), &[]).unwrap().status, 500);
    }
    // The server survives and keeps serving.
    assert_eq!(http_get(&demo.url("/"), &[]).unwrap().status, 200);
    let text = demo.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    assert_eq!(requests(&text, "GET", "/panic", "500"), Some(3.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "http_requests_in_flight",
            r#"method="GET",route="/panic""#
        ),
        Some(0.0)
    );
}

#[test]
fn stream_duration_covers_the_whole_body() {
    let demo = DemoServer::start();
    let resp = http_get(&demo.url("/stream"), &[]).unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.text().lines().count(), 10);
    let text = demo.scrape_until(SETTLE, |t| requests(t, "GET", "/stream", "200").is_some());
    let sum = sample(
        &text,
        "http_request_duration_seconds_sum",
        r#"method="GET",route="/stream",status="200""#,
    )
    .unwrap();
    // 10 chunks, 10 ms apart: a lower bound only.
    assert!(
        sum >= 0.1,
        "duration {sum} s must cover the whole ~100 ms body"
    );
}

#[test]
fn two_routers_with_two_registries_do_not_see_each_other() {
    let a = DemoServer::start();
    let b = DemoServer::start();
    for _ in 0..5 {
        http_get(&a.url("/"), &[]).unwrap();
    }
    http_get(&b.url("/users/1"), &[]).unwrap();
    let ta = a.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    let tb = b.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    assert_eq!(requests(&ta, "GET", "/", "200"), Some(5.0));
    assert_eq!(requests(&ta, "GET", "/users/{id}", "200"), None);
    assert_eq!(requests(&tb, "GET", "/users/{id}", "200"), Some(1.0));
    assert_eq!(requests(&tb, "GET", "/", "200"), None);
}

#[test]
fn scrape_route_negotiates_over_http() {
    let demo = DemoServer::start();
    http_get(&demo.url("/users/1"), &[]).unwrap();
    let cases = [
        (
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
        ),
        (
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores",
        ),
        (
            "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores",
        ),
        (
            "text/plain;version=0.0.4;q=1,*/*;q=0.1",
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
        ),
    ];
    for (accept, want) in cases {
        let resp = http_get(&demo.url("/metrics"), &[("accept", accept)]).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.header("content-type"), Some(want), "Accept: {accept}");
    }
    let head = http_request("HEAD", &demo.url("/metrics"), &[], b"").unwrap();
    assert_eq!(head.status, 200);
    let post = http_request("POST", &demo.url("/metrics"), &[], b"x").unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
}

#[test]
fn promtool_accepts_the_text_output() {
    require_tool!(PROMTOOL);
    let demo = DemoServer::start();
    for path in ["/", "/users/1", "/nope", "/panic", "/stream"] {
        http_get(&demo.url(path), &[]).unwrap();
    }
    let text = demo.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
}

#[test]
fn python_parser_accepts_the_openmetrics_output() {
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let demo = DemoServer::start();
    for path in ["/", "/users/1", "/nope"] {
        http_get(&demo.url(path), &[]).unwrap();
    }
    let resp = http_get(
        &demo.url("/metrics"),
        &[("accept", "application/openmetrics-text;version=1.0.0")],
    )
    .unwrap();
    let families = python_openmetrics_parse(&resp.text()).unwrap();
    let requests = find_family(&families, "http_requests").expect("http_requests family");
    assert_eq!(requests.samples.len(), 3, "{:?}", requests.samples);
}

#[test]
fn raw_http11_keep_alive_connection_is_counted_per_request() {
    // Several requests on one connection: each is counted once.
    let demo = DemoServer::start();
    let mut conn = TcpStream::connect(("127.0.0.1", demo.port())).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let req = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let mut buf = Vec::new();
    for _ in 0..3 {
        conn.write_all(req).unwrap();
    }
    conn.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    conn.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 4, "{text}");
    let metrics = demo.scrape_until(SETTLE, |t| requests(t, "GET", "/", "200") == Some(4.0));
    assert_eq!(
        requests(&metrics, "GET", "/", "200"),
        Some(4.0),
        "{metrics}"
    );
}
