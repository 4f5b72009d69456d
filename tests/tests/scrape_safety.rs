//! The scrape route under pressure, over real HTTP on 127.0.0.1.
//!
//! * `hundred_thousand_series_scrape_in_time`: a registry of 100,000 series (90,000 counter
//!   series whose label values include quotes, backslashes and newlines, 2,000 gauges and
//!   1,000 histograms of 8 sample lines each) behind the axum scrape route is scraped as
//!   text 0.0.4, OpenMetrics, protobuf and gzip-compressed text. Each scrape must finish
//!   within [`SCRAPE_TIME_LIMIT`] — half of Prometheus's default 10 s scrape timeout, even
//!   in debug builds — and each body must hold every series; promtool must accept the text.
//!   Sizes and times are printed (`--nocapture`).
//! * `concurrent_scrapes_under_load` (axum and actix demos): 4 threads scrape `/metrics` in
//!   every format while 4 threads send requests, for at most [`LOAD_TIME_LIMIT`]. Every
//!   scrape answers 200 and parses completely, request counts never go down between two
//!   scrapes of one thread, and the final counts equal what was sent.
//! * `scrape_auth_is_enforced` (axum via `Prometheus::builder(..).scrape(|s| s.auth(..))`, actix via
//!   `PrometheusMetrics::builder(..).scrape(|s| s.auth(..))`; bearer and basic): missing or wrong
//!   credentials get 401 with `WWW-Authenticate` and a body naming no metric, also when gzip
//!   or OpenMetrics is asked for; the right credentials get the metrics.
//!
//! The tests of this binary take turns (a shared lock), so the scrape times are not
//! inflated by the load test running beside them.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use promenade_actix::PrometheusMetrics;
use promenade_core::encoding::protobuf::decode_delimited;
use promenade_core::scrape::ScrapeAuth;
use promenade_core::{Buckets, Registry};
use promenade_tests::{
    HttpResponse, PROMTOOL, find_tool, http_get, http_request, parse_prom_float,
    promtool_check_metrics, require_tool,
};
use promenade_tower::{Prometheus, PrometheusRouterExt};

/// Upper bound for one scrape of 100,000 series, any format (Prometheus's default scrape
/// timeout is 10 s).
const SCRAPE_TIME_LIMIT: Duration = Duration::from_secs(5);
/// The load test stops sending and scraping here at the latest.
const LOAD_TIME_LIMIT: Duration = Duration::from_secs(10);
const SETTLE: Duration = Duration::from_secs(5);

const OPENMETRICS: &str = "application/openmetrics-text;version=1.0.0";
const PROTOBUF: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("valid gzip with UTF-8 inside");
    text
}

/// Checks a text exposition (0.0.4 or OpenMetrics) line by line: every sample line ends in
/// a value that parses, the text ends with a newline (OpenMetrics: with `# EOF`). Returns
/// the number of sample lines.
fn check_exposition(text: &str, openmetrics: bool) -> Result<usize, String> {
    if openmetrics {
        if !text.ends_with("# EOF\n") {
            return Err(format!(
                "OpenMetrics text does not end with # EOF: {:?}",
                tail(text)
            ));
        }
    } else if !text.is_empty() && !text.ends_with('\n') {
        return Err(format!(
            "text does not end with a newline: {:?}",
            tail(text)
        ));
    }
    let mut samples = 0;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Without an exemplar (`value # {labels} value`) the value is the last field.
        let sample = line.split(" # ").next().unwrap_or(line);
        let value = sample
            .rsplit_once(' ')
            .map(|(_, v)| v)
            .ok_or_else(|| format!("no value in {line:?}"))?;
        if parse_prom_float(value).is_none() {
            return Err(format!("value {value:?} does not parse in {line:?}"));
        }
        samples += 1;
    }
    Ok(samples)
}

fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(80);
    text.get(start..).unwrap_or(text)
}

// ---------------------------------------------------------------------------------------
// 100,000 series

const TENANTS: usize = 300;
const ENDPOINTS: usize = 300;
const GAUGES: usize = 2_000;
const HISTOGRAMS: usize = 1_000;
/// Sample lines per histogram: 5 bounds and +Inf, `_sum`, `_count`.
const HISTOGRAM_LINES: usize = 8;
const SERIES: usize = TENANTS * ENDPOINTS + GAUGES + HISTOGRAMS * HISTOGRAM_LINES;

/// A registry with [`SERIES`] series (in sample lines), nothing else.
fn big_registry() -> Registry {
    let registry = Registry::new();
    let counters = registry
        .counter_family(
            "load_requests_total",
            "Requests per tenant and endpoint.",
            &["tenant", "endpoint"],
        )
        .unwrap();
    for t in 0..TENANTS {
        let tenant = format!("tenant-{t:03}");
        for e in 0..ENDPOINTS {
            // Some label values need escaping.
            let endpoint = match e % 100 {
                0 => format!("/api/v1/\"quoted\"/{e}"),
                1 => format!("C:\\path\\{e}"),
                2 => format!("line\nbreak {e}"),
                _ => format!("/api/v1/endpoint/{e}"),
            };
            counters
                .get(&[tenant.as_str(), endpoint.as_str()])
                .unwrap()
                .inc_by_u64((t * ENDPOINTS + e) as u64);
        }
    }
    let gauges = registry
        .gauge_family("load_queue_depth", "Queue depth per shard.", &["shard"])
        .unwrap();
    for s in 0..GAUGES {
        gauges.get(&[format!("{s}")]).unwrap().set(s as f64 * 0.5);
    }
    let histograms = registry
        .histogram_family(
            "load_latency_seconds",
            "Latency per shard.",
            &["shard"],
            Buckets::new(vec![0.01, 0.05, 0.1, 0.5, 1.0]).unwrap(),
        )
        .unwrap();
    for s in 0..HISTOGRAMS {
        let h = histograms.get(&[format!("{s}")]).unwrap();
        for i in 0..5 {
            h.observe(f64::from(i) * 0.2 + s as f64 * 1e-4);
        }
    }
    registry
}

/// Scrapes `url` with `headers`, returning the response and how long it took.
fn timed_get(url: &str, headers: &[(&str, &str)]) -> (HttpResponse, Duration) {
    let started = Instant::now();
    let resp = http_get(url, headers).unwrap();
    (resp, started.elapsed())
}

#[test]
fn hundred_thousand_series_scrape_in_time() {
    let _serial = serial();
    let built = Instant::now();
    let registry = big_registry();
    let build_time = built.elapsed();
    let prometheus = Prometheus::builder(&registry)
        .scrape(|s| s.process_collector(false))
        .build()
        .unwrap();
    let app = ::axum::Router::new()
        .route("/", ::axum::routing::get(|| async { "hello\n" }))
        .with_prometheus(prometheus)
        .unwrap();
    let server = AxumDemoServer::serve(app, registry);
    let url = server.url("/metrics");
    let load_lines = |text: &str| text.lines().filter(|l| l.starts_with("load_")).count();
    let mut report = Vec::new();

    // Text 0.0.4.
    let (resp, took) = timed_get(&url, &[]);
    assert_eq!(resp.status, 200);
    let text = resp.text();
    check_exposition(&text, false).unwrap();
    assert_eq!(load_lines(&text), SERIES);
    assert!(text.contains(
        "load_requests_total{tenant=\"tenant-000\",endpoint=\"/api/v1/\\\"quoted\\\"/0\"} 0\n"
    ));
    assert!(text.contains("endpoint=\"line\\nbreak 2\""));
    report.push(("text 0.0.4", resp.body.len(), took));
    assert!(took < SCRAPE_TIME_LIMIT, "text scrape took {took:?}");

    // OpenMetrics.
    let (resp, took) = timed_get(&url, &[("accept", OPENMETRICS)]);
    assert_eq!(resp.status, 200);
    let om = resp.text();
    check_exposition(&om, true).unwrap();
    assert_eq!(load_lines(&om), SERIES);
    report.push(("OpenMetrics 1.0", resp.body.len(), took));
    assert!(took < SCRAPE_TIME_LIMIT, "OpenMetrics scrape took {took:?}");

    // Protobuf.
    let (resp, took) = timed_get(&url, &[("accept", PROTOBUF)]);
    assert_eq!(resp.status, 200);
    let families = decode_delimited(&resp.body).unwrap();
    let metrics_in = |name: &str| {
        families
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .map_or(0, |f| f.metric.len())
    };
    assert_eq!(metrics_in("load_requests_total"), TENANTS * ENDPOINTS);
    assert_eq!(metrics_in("load_queue_depth"), GAUGES);
    assert_eq!(metrics_in("load_latency_seconds"), HISTOGRAMS);
    report.push(("protobuf", resp.body.len(), took));
    assert!(took < SCRAPE_TIME_LIMIT, "protobuf scrape took {took:?}");

    // Gzip-compressed text.
    let (resp, took) = timed_get(&url, &[("accept-encoding", "gzip")]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-encoding"), Some("gzip"));
    let unzipped = gunzip(&resp.body);
    assert_eq!(unzipped, text, "gzip body differs from the plain text");
    report.push(("text 0.0.4, gzip", resp.body.len(), took));
    assert!(took < SCRAPE_TIME_LIMIT, "gzip scrape took {took:?}");

    println!(
        "100k series: {SERIES} sample lines of load_* metrics (registry built in {:.2} s)",
        build_time.as_secs_f64()
    );
    for (format, size, took) in &report {
        println!(
            "  {format:<18} {:>8.2} MiB  {:>6.0} ms",
            *size as f64 / (1024.0 * 1024.0),
            took.as_secs_f64() * 1000.0
        );
    }

    require_tool!(PROMTOOL);
    let checked = Instant::now();
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}"));
    println!(
        "  promtool check metrics accepted the text in {:.2} s ({:?})",
        checked.elapsed().as_secs_f64(),
        find_tool(PROMTOOL).unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// Concurrent scrapes under load

/// The request mix of the load threads: method, path, status, route label.
fn load_request(i: usize) -> (&'static str, String, u16, &'static str) {
    match i % 5 {
        0 => ("GET", "/".to_owned(), 200, "/"),
        1 => ("GET", format!("/users/{i}"), 200, "/users/{id}"),
        2 => ("POST", "/echo".to_owned(), 200, "/echo"),
        3 => ("GET", format!("/nope/{i}"), 404, "unmatched"),
        _ => ("DELETE", "/".to_owned(), 405, "/"),
    }
}

/// Requests per load thread (fewer if [`LOAD_TIME_LIMIT`] comes first).
const PER_LOADER: usize = 1_000;
const LOADERS: usize = 4;
const SCRAPERS: usize = 4;

type Counts = BTreeMap<(String, String, String), f64>;

/// `http_requests_total` by `(method, route, status)`.
fn request_counts(text: &str) -> Counts {
    let mut got = Counts::new();
    for (labels, value) in all_samples(text, "http_requests_total") {
        let field = |k: &str| {
            let start = labels.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
            labels[start..].split('"').next().unwrap().to_owned()
        };
        got.insert((field("method"), field("route"), field("status")), value);
    }
    got
}

/// What one scraper thread saw.
#[derive(Default)]
struct ScrapeTally {
    by_format: BTreeMap<&'static str, usize>,
    slowest: Duration,
}

/// One scrape in `format` (cycling through all four), checked completely. Returns the sum of
/// `http_requests_total` it showed, if the format is a text one.
fn scrape_and_check(url: &str, round: usize, tally: &mut ScrapeTally) -> Option<f64> {
    let (format, headers): (&'static str, &[(&str, &str)]) = match round % 4 {
        0 => ("text", &[]),
        1 => ("openmetrics", &[("accept", OPENMETRICS)]),
        2 => ("gzip", &[("accept-encoding", "gzip")]),
        _ => ("protobuf", &[("accept", PROTOBUF)]),
    };
    let started = Instant::now();
    let resp = http_get(url, headers).unwrap_or_else(|e| panic!("{format} scrape: {e}"));
    tally.slowest = tally.slowest.max(started.elapsed());
    assert_eq!(resp.status, 200, "{format} scrape");
    *tally.by_format.entry(format).or_default() += 1;
    let text = match format {
        "protobuf" => {
            let families = decode_delimited(&resp.body)
                .unwrap_or_else(|e| panic!("protobuf scrape does not decode: {e}"));
            assert!(!families.is_empty());
            return None;
        }
        "gzip" => {
            assert_eq!(resp.header("content-encoding"), Some("gzip"));
            gunzip(&resp.body)
        }
        _ => resp.text(),
    };
    check_exposition(&text, format == "openmetrics")
        .unwrap_or_else(|e| panic!("{format} scrape: {e}"));
    // Both text formats name the counter's sample `http_requests_total`.
    Some(
        all_samples(&text, "http_requests_total")
            .iter()
            .map(|s| s.1)
            .sum(),
    )
}

fn concurrent_scrapes_under_load<D: Demo>() {
    let _serial = serial();
    let demo = D::start();
    let started = Instant::now();
    let deadline = started + LOAD_TIME_LIMIT;
    let loaders_done = Arc::new(AtomicUsize::new(0));

    let loaders: Vec<_> = (0..LOADERS)
        .map(|l| {
            let base = demo.url("");
            let done = Arc::clone(&loaders_done);
            std::thread::spawn(move || {
                let mut sent = Counts::new();
                for i in 0..PER_LOADER {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let (method, path, status, route) = load_request(i + l);
                    let body: &[u8] = if method == "POST" { b"payload" } else { b"" };
                    let resp = http_request(method, &format!("{base}{path}"), &[], body)
                        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
                    assert_eq!(resp.status, status, "{method} {path}");
                    *sent
                        .entry((method.to_owned(), route.to_owned(), status.to_string()))
                        .or_default() += 1.0;
                }
                done.fetch_add(1, Ordering::SeqCst);
                sent
            })
        })
        .collect();
    let scrapers: Vec<_> = (0..SCRAPERS)
        .map(|s| {
            let url = demo.url("/metrics");
            let done = Arc::clone(&loaders_done);
            std::thread::spawn(move || {
                let mut tally = ScrapeTally::default();
                let mut last_total = 0.0;
                let mut round = s;
                // At least one full cycle of formats, then until the loaders are done.
                while round < s + 4
                    || (done.load(Ordering::SeqCst) < LOADERS && Instant::now() < deadline)
                {
                    if let Some(total) = scrape_and_check(&url, round, &mut tally) {
                        assert!(
                            total >= last_total,
                            "http_requests_total went down from {last_total} to {total}"
                        );
                        last_total = total;
                    }
                    round += 1;
                }
                tally
            })
        })
        .collect();

    let mut expected = Counts::new();
    for l in loaders {
        for (k, v) in l.join().expect("load thread panicked") {
            *expected.entry(k).or_default() += v;
        }
    }
    let load_elapsed = started.elapsed();
    let mut scrapes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    for s in scrapers {
        let tally = s.join().expect("scrape thread panicked");
        for (f, n) in tally.by_format {
            *scrapes.entry(f).or_default() += n;
        }
        slowest = slowest.max(tally.slowest);
    }
    let sent: f64 = expected.values().sum();
    println!(
        "[{}] {sent} requests from {LOADERS} threads in {:.2} s while {SCRAPERS} threads \
         scraped {:?} (slowest scrape {:.0} ms)",
        D::ADAPTER,
        load_elapsed.as_secs_f64(),
        scrapes,
        slowest.as_secs_f64() * 1000.0
    );
    assert!(
        sent >= (LOADERS * 50) as f64,
        "only {sent} requests within {LOAD_TIME_LIMIT:?}"
    );
    assert!(scrapes.values().sum::<usize>() >= SCRAPERS * 4);

    let text = demo.scrape_until(SETTLE, |t| {
        total_in_flight(t) == 0.0 && request_counts(t) == expected
    });
    assert_eq!(request_counts(&text), expected, "{text}");
    assert_eq!(total_in_flight(&text), 0.0, "{text}");
    let hist: f64 = all_samples(&text, "http_request_duration_seconds_count")
        .iter()
        .map(|s| s.1)
        .sum();
    assert_eq!(hist, sent);
}

// ---------------------------------------------------------------------------------------
// Auth

const SECRET_METRIC: &str = "secret_business_value";

fn auth_registry() -> Registry {
    let registry = Registry::new();
    registry
        .gauge(SECRET_METRIC, "Nobody without credentials may see this.")
        .unwrap()
        .set(42.0);
    registry
}

fn axum_with_auth(auth: ScrapeAuth) -> AxumDemoServer {
    let registry = auth_registry();
    let app = ::axum::Router::new()
        .route("/", ::axum::routing::get(|| async { "hello\n" }))
        .with_prometheus(
            Prometheus::builder(&registry)
                .scrape(|s| s.auth(auth))
                .build()
                .unwrap(),
        )
        .unwrap();
    AxumDemoServer::serve(app, registry)
}

fn actix_with_auth(auth: ScrapeAuth) -> ActixDemoServer {
    let registry = auth_registry();
    let metrics = PrometheusMetrics::builder(&registry)
        .scrape(|s| s.auth(auth))
        .build()
        .unwrap();
    ActixDemoServer::serve(metrics, promenade_examples::actix_demo::routes)
}

/// `base64("prom:pw")` and friends.
const BASIC_RIGHT: &str = "Basic cHJvbTpwdw=="; // prom:pw
const BASIC_WRONG_PASSWORD: &str = "Basic cHJvbTpwdXc="; // prom:puw
const BASIC_WRONG_USER: &str = "Basic cHJvOnB3"; // pro:pw
const BEARER_TOKEN: &str = "s3cret-token";

/// Sends a scrape with `authorization` (if any) and extra headers.
fn scrape_with(
    url: &str,
    authorization: Option<&str>,
    extra: &[(&'static str, &'static str)],
    method: &str,
) -> HttpResponse {
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    http_request(method, url, &headers, b"").unwrap()
}

fn assert_denied(resp: &HttpResponse, challenge: &str, what: &str) {
    assert_eq!(resp.status, 401, "{what}");
    assert_eq!(
        resp.header("www-authenticate"),
        Some(challenge),
        "{what}: WWW-Authenticate"
    );
    assert_eq!(
        resp.header("content-encoding"),
        None,
        "{what}: 401 body is not compressed"
    );
    let body = resp.text();
    for leak in [
        SECRET_METRIC,
        "http_request",
        "process_",
        "# TYPE",
        "# HELP",
        "42",
    ] {
        assert!(
            !body.contains(leak),
            "{what}: 401 body leaks {leak:?}: {body:?}"
        );
    }
}

fn scrape_auth_is_enforced<D: Demo>(start: fn(ScrapeAuth) -> D) {
    let _serial = serial();
    let wants: [(&str, &[(&'static str, &'static str)]); 4] = [
        ("plain", &[]),
        ("gzip", &[("accept-encoding", "gzip")]),
        ("OpenMetrics", &[("accept", OPENMETRICS)]),
        (
            "OpenMetrics+gzip",
            &[("accept", OPENMETRICS), ("accept-encoding", "gzip")],
        ),
    ];
    let bearer_right = format!("Bearer {BEARER_TOKEN}");
    let bearer_cases: Vec<(&str, Option<String>)> = vec![
        ("no credentials", None),
        ("empty", Some(String::new())),
        ("wrong token", Some("Bearer wrong".into())),
        (
            "token prefix",
            Some(format!(
                "Bearer {}",
                &BEARER_TOKEN[..BEARER_TOKEN.len() - 1]
            )),
        ),
        (
            "token plus a character",
            Some(format!("Bearer {BEARER_TOKEN}x")),
        ),
        ("token without scheme", Some(BEARER_TOKEN.into())),
        ("basic scheme", Some(BASIC_RIGHT.into())),
        ("scheme only", Some("Bearer".into())),
    ];
    let basic_cases: Vec<(&str, Option<String>)> = vec![
        ("no credentials", None),
        ("empty", Some(String::new())),
        ("wrong password", Some(BASIC_WRONG_PASSWORD.into())),
        ("wrong user", Some(BASIC_WRONG_USER.into())),
        ("not base64", Some("Basic !!!notbase64!!!".into())),
        ("unencoded user:password", Some("Basic prom:pw".into())),
        ("bearer scheme", Some("Bearer cHJvbTpwdw==".into())),
        ("scheme only", Some("Basic".into())),
    ];
    let modes = [
        (
            "bearer",
            ScrapeAuth::Bearer(BEARER_TOKEN.into()),
            "Bearer realm=\"metrics\"",
            bearer_right.clone(),
            bearer_cases,
        ),
        (
            "basic",
            ScrapeAuth::Basic {
                username: "prom".into(),
                password: "pw".into(),
            },
            "Basic realm=\"metrics\"",
            BASIC_RIGHT.to_owned(),
            basic_cases,
        ),
    ];
    for (mode, auth, challenge, right, wrong_cases) in modes {
        let server = start(auth);
        // A counted request, so the HTTP metrics have series that could leak.
        assert_eq!(http_get(&server.url("/"), &[]).unwrap().status, 200);
        let url = server.url("/metrics");
        let mut denied = 0;
        for (case, authorization) in &wrong_cases {
            for (want, extra) in wants {
                for method in ["GET", "HEAD"] {
                    let resp = scrape_with(&url, authorization.as_deref(), extra, method);
                    assert_denied(
                        &resp,
                        challenge,
                        &format!("[{}] {mode}, {case}, {want}, {method}", D::ADAPTER),
                    );
                    denied += 1;
                }
            }
        }
        for (want, extra) in wants {
            let resp = scrape_with(&url, Some(&right), extra, "GET");
            assert_eq!(resp.status, 200, "{mode}, right credentials, {want}");
            let text = if want.ends_with("gzip") {
                assert_eq!(resp.header("content-encoding"), Some("gzip"), "{want}");
                gunzip(&resp.body)
            } else {
                resp.text()
            };
            let openmetrics = want.starts_with("OpenMetrics");
            check_exposition(&text, openmetrics).unwrap();
            let expected = if openmetrics {
                format!("{SECRET_METRIC} 42.0\n")
            } else {
                format!("{SECRET_METRIC} 42\n")
            };
            assert!(text.contains(&expected), "{mode}, {want}: {text}");
            assert!(
                text.contains("http_requests_total{"),
                "{mode}, {want}: {text}"
            );
        }
        println!(
            "[{}] {mode}: {denied} scrapes without the right credentials got 401, 4 with them got 200",
            D::ADAPTER
        );
    }
}

macro_rules! per_adapter {
    ($adapter:ident, $demo:ty, $with_auth:path) => {
        mod $adapter {
            use super::*;

            #[test]
            fn concurrent_scrapes_under_load() {
                super::concurrent_scrapes_under_load::<$demo>();
            }

            #[test]
            fn scrape_auth_is_enforced() {
                super::scrape_auth_is_enforced::<$demo>($with_auth);
            }
        }
    };
}

per_adapter!(axum, AxumDemoServer, axum_with_auth);
per_adapter!(actix, ActixDemoServer, actix_with_auth);
