//! One scenario, two adapters: every test here runs against the axum demo (promenade-tower)
//! and the actix demo (promenade-actix), served on 127.0.0.1:0 and driven by a real HTTP
//! client (ureq, keep-alive) and raw TCP sockets. Both must give the same numbers, and
//! their expositions after the same requests must name the same series. Scrape-format
//! conformance (every Accept header, reference parsers) is in `conformance.rs`.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use promenade_core::Buckets;
use promenade_core::http_metrics::{DurationEnd, LabelValues, Naming, RoutePolicy};
use promenade_examples::{DemoOptions, DemoOutcome, DemoTenant, OUTCOME_HEADER, TIER_HEADER};
use promenade_tests::{Rng, http_get, http_request};

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

fn known_mix_of_requests_is_counted_exactly<D: Demo>() {
    let demo = D::start();
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

fn ten_thousand_unmatched_requests_add_no_series<D: Demo>() {
    const METHODS: [&str; 8] = [
        "GET", "POST", "PUT", "BREW", "get", "PROPFIND", "X-Y", "PATCH",
    ];
    const N: usize = 10_000;
    const TIME_LIMIT: Duration = Duration::from_secs(120);
    let demo = D::start();
    let mut client = RawClient::connect(demo.port()); // one keep-alive connection
    // Warm-up: one unmatched request per method creates every series this can produce.
    for m in METHODS {
        assert_eq!(client.request(m, "/warm/up"), 404);
    }
    let before = demo.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    let series_before = sample_lines(&before);

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let mut sent = 0;
    while sent < N && started.elapsed() < TIME_LIMIT {
        let method = METHODS[(rng.next() % METHODS.len() as u64) as usize];
        let path = format!(
            "/r{:x}/{:x}?q={:x}",
            rng.next(),
            rng.next() % 1000,
            rng.next()
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

fn client_disconnect_during_slow_records_499<D: Demo>() {
    let demo = D::start();
    let mut conn = TcpStream::connect(("127.0.0.1", demo.port())).unwrap();
    conn.write_all(b"GET /slow?ms=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let text = demo.scrape_until(SETTLE, |t| {
        sample(t, "http_requests_in_flight", r#"method="GET""#) == Some(1.0)
    });
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        Some(1.0),
        "{text}"
    );
    drop(conn); // the client goes away mid-request
    let text = demo.scrape_until(SETTLE, |t| requests(t, "GET", "/slow", "499").is_some());
    assert_eq!(requests(&text, "GET", "/slow", "499"), Some(1.0), "{text}");
    assert_eq!(requests(&text, "GET", "/slow", "200"), None, "{text}");
    assert_eq!(total_in_flight(&text), 0.0, "{text}");
}

fn panic_is_500_and_in_flight_returns_to_zero<D: Demo>() {
    let demo = D::start();
    for _ in 0..3 {
        assert_eq!(http_get(&demo.url("/panic"), &[]).unwrap().status, 500);
    }
    // The server survives and keeps serving.
    assert_eq!(http_get(&demo.url("/"), &[]).unwrap().status, 200);
    let text = demo.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    assert_eq!(requests(&text, "GET", "/panic", "500"), Some(3.0), "{text}");
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        Some(0.0),
        "{text}"
    );
}

/// The label sets of every `http_requests_in_flight` sample, e.g. `method="GET"`.
fn in_flight_label_sets(text: &str) -> Vec<&str> {
    all_samples(text, "http_requests_in_flight")
        .into_iter()
        .map(|(labels, _)| labels)
        .collect()
}

/// Clients that go away during `/slow`, mixed with normal requests: in-flight is labelled by
/// method only and every method's gauge is back to 0 once the cancellations are recorded.
fn cancelled_requests_leave_in_flight_per_method_at_zero<D: Demo>() {
    const CANCELLED: usize = 5;
    let demo = D::start();
    let mut conns = Vec::new();
    for _ in 0..CANCELLED {
        let mut conn = TcpStream::connect(("127.0.0.1", demo.port())).unwrap();
        conn.write_all(b"GET /slow?ms=10000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .unwrap();
        conns.push(conn);
    }
    for (method, path) in [("GET", "/"), ("GET", "/users/3"), ("POST", "/echo")] {
        assert_eq!(
            http_request(method, &demo.url(path), &[], b"x")
                .unwrap()
                .status,
            200
        );
    }
    let text = demo.scrape_until(SETTLE, |t| {
        sample(t, "http_requests_in_flight", r#"method="GET""#) == Some(CANCELLED as f64)
    });
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        Some(CANCELLED as f64),
        "{text}"
    );
    drop(conns); // every client goes away mid-request
    let settled = |t: &str| {
        requests(t, "GET", "/slow", "499") == Some(CANCELLED as f64) && total_in_flight(t) == 0.0
    };
    let text = demo.scrape_until(SETTLE, settled);
    assert!(settled(&text), "{text}");
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="POST""#),
        Some(0.0),
        "{text}"
    );
    // The new label set: `method` only, one series per method seen.
    let mut sets = in_flight_label_sets(&text);
    sets.sort_unstable();
    assert_eq!(sets, [r#"method="GET""#, r#"method="POST""#], "{text}");
    assert_eq!(requests(&text, "GET", "/", "200"), Some(1.0), "{text}");
    assert_eq!(requests(&text, "POST", "/echo", "200"), Some(1.0), "{text}");
}

fn stream_duration_covers_the_whole_body<D: Demo>() {
    let demo = D::start();
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

fn two_routers_with_two_registries_do_not_see_each_other<D: Demo>() {
    let a = D::start();
    let b = D::start();
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

fn raw_http11_keep_alive_connection_is_counted_per_request<D: Demo>() {
    // Several requests on one connection: each is counted once.
    let demo = D::start();
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

/// The series of an exposition: `name{label="value",...}` with labels sorted, mapped to the
/// value, process metrics left out (their values and presence depend on the platform).
fn series(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("process_"))
        .map(|line| {
            let (key, value) = line.rsplit_once(' ').expect("sample line has a value");
            let (name, labels) = match key.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}').expect("closing brace")),
                None => (key, ""),
            };
            let mut pairs: Vec<&str> = labels.split("\",").filter(|p| !p.is_empty()).collect();
            pairs.sort_unstable();
            let labels = pairs
                .iter()
                .map(|p| format!("{}\"", p.trim_end_matches('"')))
                .collect::<Vec<_>>()
                .join(",");
            (
                format!("{name}{{{labels}}}"),
                value.parse().expect("numeric value"),
            )
        })
        .collect()
}

/// Sends the same requests (every route, an error, a panic, unmatched paths, an unknown
/// method) to a demo and returns its exposition once in-flight is back to zero.
/// `counted`: how many of the 11 requests the options leave instrumented.
fn exposition_after_fixed_sequence<D: Demo>(options: DemoOptions, counted: f64) -> String {
    let demo = D::start_with(options);
    // The `x-tier` headers become a tenant in the request's extensions (the demos'
    // auth-like layer); they change nothing unless a label reads that tenant.
    let pro: &[(&str, &str)] = &[(TIER_HEADER, "pro")];
    let unknown: &[(&str, &str)] = &[(TIER_HEADER, "platinum")];
    for (method, path, headers, body) in [
        ("GET", "/", &[][..], &b""[..]),
        ("GET", "/users/7", pro, b""),
        ("GET", "/users/8", unknown, b""),
        ("POST", "/echo", pro, b"hello"),
        ("GET", "/slow?ms=3", &[], b""),
        ("GET", "/stream", &[], b""),
        ("GET", "/panic", &[], b""),
        ("GET", "/no/such/route", pro, b""),
        ("PUT", "/no/such/route", &[], b""),
        ("DELETE", "/", &[], b""),
    ] {
        http_request(method, &demo.url(path), headers, body).unwrap();
    }
    // A method ureq refuses to send.
    assert_eq!(
        RawClient::connect(demo.port()).request("PROPFIND", "/users/1/x"),
        404
    );
    demo.scrape_until(SETTLE, |t| {
        total_in_flight(t) == 0.0
            && all_samples(t, "http_requests_total")
                .iter()
                .map(|s| s.1)
                .sum::<f64>()
                == counted
    })
}

/// The series of both adapters' expositions after the same requests with the same options:
/// the same metric names, label names and values (bucket bounds included), and the same
/// counts. Durations differ, so among histogram samples only `_count` is compared, and the
/// request size `_sum` (a declared length, so deterministic).
fn assert_adapters_agree(options: &DemoOptions, counted: f64, expected_keys: &[&str]) {
    let axum = series(&exposition_after_fixed_sequence::<AxumDemoServer>(
        options.clone(),
        counted,
    ));
    let actix = series(&exposition_after_fixed_sequence::<ActixDemoServer>(
        options.clone(),
        counted,
    ));
    let names = |m: &BTreeMap<String, f64>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&axum),
        names(&actix),
        "series differ between axum (left) and actix (right)"
    );
    for key in expected_keys {
        assert!(axum.contains_key(*key), "{key}\n{axum:#?}");
    }
    for (key, value) in &axum {
        let (name, _) = key.split_once('{').unwrap_or((key, ""));
        if name.ends_with("_total")
            || name.ends_with("_in_flight")
            || name.ends_with("_active_requests")
            || name.ends_with("_count")
            || name == "http_request_size_bytes_sum"
        {
            assert_eq!(Some(value), actix.get(key), "{key}");
        }
    }
}

/// The adapters agree with the default options.
#[test]
fn axum_and_actix_expose_identical_series() {
    assert_adapters_agree(
        &DemoOptions::default(),
        11.0,
        &[
            r#"http_requests_total{method="GET",route="/users/{id}",status="200"}"#,
            r#"http_requests_in_flight{method="GET"}"#,
            r#"http_requests_in_flight{method="PUT"}"#,
        ],
    );
}

/// The adapters agree when the same non-default options go through each one's
/// `.metrics(..)` hook: custom buckets, both naming presets, status classes, constant and
/// derived labels, an extra method, an excluded path, body sizes.
#[test]
fn axum_and_actix_expose_identical_series_with_non_default_options() {
    let options = DemoOptions {
        native: false,
        metrics: Some(Arc::new(|m| {
            m.buckets(Buckets::new(vec![0.005, 0.05, 0.5, 5.0]).expect("valid buckets"))
                .naming(Naming::Both)
                .status_classes(true)
                .const_label("service", "demo")
                .derived_label("api", |info| {
                    if info.path.starts_with("/users/") {
                        "users"
                    } else {
                        "other"
                    }
                    .to_owned()
                })
                .extra_methods(&["PROPFIND"])
                .exclude_path("/")
                .body_sizes(true)
        })),
    };
    // GET / and DELETE / are excluded.
    assert_adapters_agree(
        &options,
        9.0,
        &[
            r#"http_request_duration_seconds_bucket{api="users",le="0.05",method="GET",route="/users/{id}",service="demo",status="2xx"}"#,
            r#"http_requests_in_flight{method="GET",service="demo"}"#,
            r#"http_server_active_requests{http_request_method="GET",service="demo"}"#,
        ],
    );
    // The series the options add are really there (and so compared above).
    let axum = exposition_after_fixed_sequence::<AxumDemoServer>(options, 9.0);
    for needle in [
        "http_server_request_duration_seconds_count{",
        r#"http_request_size_bytes_sum{service="demo",method="POST",route="/echo",status="2xx",api="other"} 5"#,
        r#"method="PROPFIND""#,
    ] {
        assert!(axum.contains(needle), "{needle}\n{axum}");
    }
    assert!(
        !axum.contains(r#"route="/","#),
        "excluded path counted:\n{axum}"
    );
}

/// Labels from the application agree too: the tenant the demos' auth-like layer puts into
/// the request's extensions, the outcome `/users/{id}` puts into the response's extensions
/// and a response header. Undeclared values are folded, absent ones take the absent value,
/// and in-flight keeps `method` only (response labels are unknown when a request starts).
#[test]
fn axum_and_actix_expose_identical_series_with_labels_from_the_application() {
    let options = DemoOptions {
        native: false,
        metrics: Some(Arc::new(|m| {
            m.request_extension_label(
                "tier",
                LabelValues::one_of(&["free", "pro"], "other").when_absent("none"),
                |t: &DemoTenant| t.tier(),
            )
            .response_extension_label(
                "outcome",
                LabelValues::one_of(&["found"], "other").when_absent("none"),
                |o: &DemoOutcome| o.0,
            )
            .response_header_label(
                "outcome_header",
                OUTCOME_HEADER,
                LabelValues::any("none"),
            )
        })),
    };
    assert_adapters_agree(
        &options,
        11.0,
        &[
            r#"http_requests_total{method="GET",outcome="found",outcome_header="found",route="/users/{id}",status="200",tier="pro"}"#,
            r#"http_requests_total{method="GET",outcome="found",outcome_header="found",route="/users/{id}",status="200",tier="other"}"#,
            r#"http_requests_total{method="POST",outcome="none",outcome_header="none",route="/echo",status="200",tier="pro"}"#,
            r#"http_requests_total{method="GET",outcome="none",outcome_header="none",route="unmatched",status="404",tier="pro"}"#,
            r#"http_requests_total{method="GET",outcome="none",outcome_header="none",route="/panic",status="500",tier="none"}"#,
            r#"http_request_duration_seconds_count{method="GET",outcome="none",outcome_header="none",route="/",status="200",tier="none"}"#,
            r#"http_requests_in_flight{method="GET"}"#,
        ],
    );
}

/// With `in_flight_by_route(true)` in-flight has `method` and `route` again, and both
/// adapters agree on it.
#[test]
fn axum_and_actix_expose_identical_series_with_in_flight_by_route() {
    let options = DemoOptions {
        native: false,
        metrics: Some(Arc::new(|m| m.in_flight_by_route(true))),
    };
    assert_adapters_agree(
        &options,
        11.0,
        &[r#"http_requests_in_flight{method="GET",route="/users/{id}"}"#],
    );
    let axum = exposition_after_fixed_sequence::<AxumDemoServer>(options, 11.0);
    let sets = in_flight_label_sets(&axum);
    assert!(!sets.is_empty(), "{axum}");
    for labels in sets {
        assert!(
            labels.starts_with(r#"method=""#) && labels.contains(r#"",route=""#),
            "{labels}"
        );
    }
}

/// The adapters agree with every kind of exclusion on and a per-route duration policy:
/// path prefix, route template, status, status of unmatched requests, and `/stream` timed
/// to its head with its own buckets.
#[test]
fn axum_and_actix_expose_identical_series_with_exclusions_and_route_policy() {
    let options = DemoOptions {
        native: false,
        metrics: Some(Arc::new(|m| {
            m.exclude_path_prefix("/ec")
                .exclude_route("/slow")
                .exclude_status(500)
                .exclude_unmatched_status(404)
                .route_policy(
                    "/stream",
                    RoutePolicy::new()
                        .duration_end(DurationEnd::Head)
                        .buckets(Buckets::new(vec![0.25, 2.5]).expect("valid buckets")),
                )
        })),
    };
    // Counted: GET /, GET /users/7, GET /users/8, GET /stream, DELETE / (405 of route "/").
    // Not: POST /echo (prefix), GET /slow (route), GET /panic (500), the three unmatched 404s.
    assert_adapters_agree(
        &options,
        5.0,
        &[
            r#"http_requests_total{method="GET",route="/users/{id}",status="200"}"#,
            r#"http_requests_total{method="DELETE",route="/",status="405"}"#,
            r#"http_request_duration_seconds_bucket{le="2.5",method="GET",route="/stream",status="200"}"#,
            r#"http_request_duration_seconds_bucket{le="0.005",method="GET",route="/",status="200"}"#,
        ],
    );
    let axum = exposition_after_fixed_sequence::<AxumDemoServer>(options, 5.0);
    for absent in [
        r#"route="/echo""#,
        r#"route="/slow""#,
        r#"route="/panic""#,
        r#"route="unmatched""#,
        r#"method="POST""#,
        r#"route="/stream",status="200",le="0.005""#,
    ] {
        assert!(!axum.contains(absent), "{absent}\n{axum}");
    }
}

/// The adapters agree in allow-list mode: only `/users/{id}` is recorded, and no other
/// route leaves an in-flight series behind (route rules are decided before the request
/// starts in both).
#[test]
fn axum_and_actix_expose_identical_series_with_an_allow_list() {
    let options = DemoOptions {
        native: false,
        metrics: Some(Arc::new(|m| m.allow_route("/users/{id}"))),
    };
    assert_adapters_agree(
        &options,
        2.0,
        &[r#"http_requests_total{method="GET",route="/users/{id}",status="200"}"#],
    );
    let axum = exposition_after_fixed_sequence::<AxumDemoServer>(options, 2.0);
    let sets = in_flight_label_sets(&axum);
    assert_eq!(sets, vec![r#"method="GET""#], "{axum}");
}

/// Runs every scenario above against one adapter's demo.
macro_rules! scenarios {
    ($adapter:ident, $demo:ty) => {
        mod $adapter {
            use super::*;

            #[test]
            fn known_mix_of_requests_is_counted_exactly() {
                super::known_mix_of_requests_is_counted_exactly::<$demo>();
            }

            #[test]
            fn ten_thousand_unmatched_requests_add_no_series() {
                super::ten_thousand_unmatched_requests_add_no_series::<$demo>();
            }

            #[test]
            fn client_disconnect_during_slow_records_499() {
                super::client_disconnect_during_slow_records_499::<$demo>();
            }

            #[test]
            fn panic_is_500_and_in_flight_returns_to_zero() {
                super::panic_is_500_and_in_flight_returns_to_zero::<$demo>();
            }

            #[test]
            fn cancelled_requests_leave_in_flight_per_method_at_zero() {
                super::cancelled_requests_leave_in_flight_per_method_at_zero::<$demo>();
            }

            #[test]
            fn stream_duration_covers_the_whole_body() {
                super::stream_duration_covers_the_whole_body::<$demo>();
            }

            #[test]
            fn two_routers_with_two_registries_do_not_see_each_other() {
                super::two_routers_with_two_registries_do_not_see_each_other::<$demo>();
            }

            #[test]
            fn raw_http11_keep_alive_connection_is_counted_per_request() {
                super::raw_http11_keep_alive_connection_is_counted_per_request::<$demo>();
            }
        }
    };
}

scenarios!(axum, AxumDemoServer);
scenarios!(actix, ActixDemoServer);
