//! promenade-actix against a real actix-web server on 127.0.0.1 and a real HTTP client.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Conn, TestServer, sample, series_count, wait_until};
use promenade_actix::PrometheusMetrics;
use promenade_core::Registry;

fn metrics(registry: &Registry) -> PrometheusMetrics {
    PrometheusMetrics::builder(registry)
        .build()
        .expect("valid configuration")
}

fn total(text: &str, method: &str, route: &str, status: &str) -> f64 {
    sample(
        text,
        "http_requests_total",
        &format!(r#"method="{method}",route="{route}",status="{status}""#),
    )
    .unwrap_or(0.0)
}

#[test]
fn exact_counts_with_four_workers() {
    let registry = Registry::new();
    let server = TestServer::start(metrics(&registry), 4);
    const CLIENTS: usize = 8;
    // (method, path, body, status, route label, count per client)
    type Case<'a> = (&'a str, &'a str, &'a [u8], u16, &'a str, usize);
    let mix: &[Case<'_>] = &[
        ("GET", "/", b"", 200, "/", 25),
        ("GET", "/users/7", b"", 200, "/users/{id}", 20),
        ("GET", "/users/abc", b"", 404, "/users/{id}", 5),
        ("POST", "/echo", b"hello", 200, "/echo", 10),
        ("GET", "/api/items/3", b"", 200, "/api/items/{id}", 7),
        ("DELETE", "/api/items/3", b"", 204, "/api/items/{id}", 3),
        (
            "GET",
            "/api/v1/things/a/parts/b",
            b"",
            200,
            "/api/v1/things/{thing}/parts/{part}",
            4,
        ),
        ("GET", "/error", b"", 409, "/error", 6),
        // App::route guards the resource by method: a mismatch falls through to 404.
        ("PUT", "/", b"", 404, "/", 2),
        // A resource with routes answers other methods with 405.
        ("PUT", "/api/items/9", b"", 405, "/api/items/{id}", 2),
        ("GET", "/nope/x", b"", 404, "unmatched", 3),
    ];
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                let mut conn = server.conn();
                for (method, path, body, status, _, n) in mix {
                    for _ in 0..*n {
                        let (got, _) = conn.request(method, path, &[], body);
                        assert_eq!(got, *status, "{method} {path}");
                    }
                }
            });
        }
    });
    assert!(started.elapsed() < Duration::from_secs(60));
    let text = server.metrics();
    let mut expected: BTreeMap<(&str, &str, u16), usize> = BTreeMap::new();
    for (method, _, _, status, route, n) in mix {
        *expected.entry((method, route, *status)).or_default() += n * CLIENTS;
    }
    let mut sum = 0.0;
    for ((method, route, status), n) in &expected {
        assert_eq!(
            total(&text, method, route, &status.to_string()),
            *n as f64,
            "{method} {route} {status}\n{text}"
        );
        sum += *n as f64;
    }
    let all: f64 = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(
        all, sum,
        "no other series counted (the scrape is not counted)"
    );
    for line in text
        .lines()
        .filter(|l| l.starts_with("http_requests_in_flight{"))
    {
        assert!(line.ends_with(" 0"), "{line}");
    }
    // Histogram count equals the counter.
    assert_eq!(
        sample(
            &text,
            "http_request_duration_seconds_count",
            r#"method="GET",route="/users/{id}",status="200""#
        ),
        Some((20 * CLIENTS) as f64)
    );
}

/// Tiny deterministic PRNG (xorshift64*), so no `rand` dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_paths_and_odd_methods_do_not_add_series() {
    let registry = Registry::new();
    let server = TestServer::start(metrics(&registry), 2);
    let methods = ["GET", "POST", "BREW", "PROPFIND", "get", "X-ODD", "DELETE"];
    // Warm up: one request per method to an unmatched path and to a matched route.
    let mut conn = server.conn();
    for m in methods {
        conn.request(m, "/warm/up", &[], b"");
        conn.request(m, "/users/1", &[], b"");
    }
    let before = series_count(&server.metrics());
    let deadline = Instant::now() + Duration::from_secs(120);
    const N: usize = 10_000;
    const THREADS: usize = 4;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                let mut conn = Conn::new(server.port);
                for i in 0..N / THREADS {
                    assert!(Instant::now() < deadline, "flood took too long");
                    let r = rng.next();
                    let m = methods[(r % methods.len() as u64) as usize];
                    let path = if i % 10 == 0 {
                        format!("/users/{}", r % 1000)
                    } else {
                        format!("/r{:x}/{}", r, i)
                    };
                    let (status, _) = conn.request(m, &path, &[], b"");
                    assert!(
                        status == 404 || status == 405 || status == 200,
                        "{m} {path} -> {status}"
                    );
                }
            });
        }
    });
    let text = server.metrics();
    assert_eq!(series_count(&text), before, "{text}");
    for line in text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
    {
        let route_ok =
            line.contains(r#"route="unmatched""#) || line.contains(r#"route="/users/{id}""#);
        assert!(route_ok, "raw path leaked into a label: {line}");
    }
    let sum: f64 = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(sum, (N + 2 * methods.len()) as f64);
    assert!(
        text.contains(r#"http_requests_total{method="_OTHER",route="unmatched",status="404"}"#)
    );
}

#[test]
fn disconnect_during_slow_request_is_499_and_in_flight_returns_to_zero() {
    let registry = Registry::new();
    let server = TestServer::start(metrics(&registry), 1);
    let mut conn = server.conn();
    conn.send("GET", "/slow?ms=5000", &[], b"");
    let in_flight = r#"method="GET""#;
    assert!(wait_until(Duration::from_secs(5), || {
        sample(&server.metrics(), "http_requests_in_flight", in_flight) == Some(1.0)
    }));
    // Reset the connection (SO_LINGER 0), the way a client that goes away does.
    socket2::SockRef::from(conn.stream())
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(conn);
    let mut text = String::new();
    assert!(
        wait_until(Duration::from_secs(4), || {
            text = server.metrics();
            total(&text, "GET", "/slow", "499") == 1.0
        }),
        "{text}"
    );
    assert_eq!(
        sample(&text, "http_requests_in_flight", in_flight),
        Some(0.0)
    );
    assert_eq!(total(&text, "GET", "/slow", "200"), 0.0);
}

/// With `in_flight_by_route(true)` the middleware finds the route before routing: in-flight
/// has `method` and `route`, and a cancelled request still lowers it.
#[test]
fn in_flight_by_route_labels_method_and_route() {
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry)
        .metrics(|m| m.in_flight_by_route(true))
        .build()
        .expect("valid configuration");
    let server = TestServer::start(mw, 1);
    let mut conn = server.conn();
    conn.send("GET", "/slow?ms=5000", &[], b"");
    let in_flight = r#"method="GET",route="/slow""#;
    assert!(wait_until(Duration::from_secs(5), || {
        sample(&server.metrics(), "http_requests_in_flight", in_flight) == Some(1.0)
    }));
    socket2::SockRef::from(conn.stream())
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(conn);
    let mut text = String::new();
    assert!(
        wait_until(Duration::from_secs(4), || {
            text = server.metrics();
            total(&text, "GET", "/slow", "499") == 1.0
        }),
        "{text}"
    );
    assert_eq!(
        sample(&text, "http_requests_in_flight", in_flight),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        None,
        "{text}"
    );
}

#[test]
fn half_close_cancels_when_half_closed_connections_are_not_allowed() {
    let registry = Registry::new();
    let server = TestServer::start_with(metrics(&registry), 1, false);
    let mut conn = server.conn();
    conn.send("GET", "/slow?ms=5000", &[], b"");
    let in_flight = r#"method="GET""#;
    assert!(wait_until(Duration::from_secs(5), || {
        sample(&server.metrics(), "http_requests_in_flight", in_flight) == Some(1.0)
    }));
    conn.stream().shutdown(std::net::Shutdown::Write).unwrap();
    let mut text = String::new();
    assert!(
        wait_until(Duration::from_secs(4), || {
            text = server.metrics();
            total(&text, "GET", "/slow", "499") == 1.0
        }),
        "{text}"
    );
    assert_eq!(
        sample(&text, "http_requests_in_flight", in_flight),
        Some(0.0)
    );
}

#[test]
fn handler_panic_is_recorded_as_500_and_balances_in_flight() {
    let registry = Registry::new();
    let server = TestServer::start(metrics(&registry), 1);
    // Without catch_panics, actix drops the connection: no response.
    let mut conn = server.conn();
    conn.send("GET", "/panic", &[], b"");
    let mut buf = String::new();
    let got = std::io::BufRead::read_line(&mut std::io::BufReader::new(conn.stream()), &mut buf);
    assert!(
        matches!(got, Ok(0) | Err(_)),
        "expected a dropped connection, got {buf:?}"
    );
    let text = server.metrics();
    assert_eq!(total(&text, "GET", "/panic", "500"), 1.0, "{text}");
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        Some(0.0)
    );
    // The worker survives.
    assert_eq!(server.conn().request("GET", "/", &[], b"").0, 200);
}

#[test]
fn caught_panic_becomes_a_500_response() {
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry)
        .catch_panics(true)
        .build()
        .unwrap();
    let server = TestServer::start(mw, 1);
    let mut conn = server.conn();
    assert_eq!(conn.request("GET", "/panic", &[], b"").0, 500);
    assert_eq!(conn.request("GET", "/panic", &[], b"").0, 500);
    let text = server.metrics();
    assert_eq!(total(&text, "GET", "/panic", "500"), 2.0, "{text}");
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        Some(0.0)
    );
}

#[test]
fn streaming_duration_covers_the_body() {
    let registry = Registry::new();
    let server = TestServer::start(metrics(&registry), 1);
    let mut conn = server.conn();
    for _ in 0..3 {
        let (status, body) = conn.request("GET", "/stream", &[], b"");
        assert_eq!(status, 200);
        assert_eq!(String::from_utf8(body).unwrap().lines().count(), 5);
    }
    let text = server.metrics();
    let labels = r#"method="GET",route="/stream",status="200""#;
    assert_eq!(
        sample(&text, "http_request_duration_seconds_count", labels),
        Some(3.0)
    );
    let sum = sample(&text, "http_request_duration_seconds_sum", labels).unwrap();
    // Five chunks 25 ms apart: at least 125 ms each (lower bound only).
    assert!(sum >= 3.0 * 0.125, "sum {sum}");
}

#[test]
fn scrape_route_methods_auth_and_gzip() {
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry)
        .scrape(|s| s.auth(promenade_actix::ScrapeAuth::Bearer("tok".into())))
        .build()
        .unwrap();
    let server = TestServer::start(mw, 1);
    let mut conn = server.conn();
    assert_eq!(conn.request("GET", "/", &[], b"").0, 200);
    let (status, headers, _) = conn.request_full("GET", "/metrics", &[]);
    assert_eq!(status, 401);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "www-authenticate" && v.starts_with("Bearer"))
    );
    let auth = [("authorization", "Bearer tok")];
    let (status, headers, _) = conn.request_full("POST", "/metrics", &auth);
    assert_eq!(status, 405);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "allow" && v == "GET, HEAD")
    );
    let (status, headers, _) = conn.request_full("HEAD", "/metrics", &auth);
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v.starts_with("text/plain; version=0.0.4"))
    );
    let (status, headers, body) =
        conn.request_full("GET", "/metrics", &[auth[0], ("accept-encoding", "gzip")]);
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v == "gzip")
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    assert_eq!(total(&text, "GET", "/", "200"), 1.0, "{text}");
    // Scrapes (including refused ones) are not counted by default.
    assert!(!text.contains(r#"route="/metrics""#));
}
