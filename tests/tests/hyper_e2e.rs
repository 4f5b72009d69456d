//! promenade-tower without axum: the plain-hyper demo (hyper 1's HTTP/1.1 server, the tower
//! layer with a route extractor, `/metrics` from `MetricsService`) on 127.0.0.1, driven by a
//! real HTTP client; exact counts, bounded series, output accepted by promtool.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use promenade_core::Registry;
use promenade_core::testutil::{sample_value, series_count};
use promenade_tests::{
    PROMTOOL, Rng, http_get, http_request, promtool_check_metrics, require_tool,
};

/// The demo on its own runtime thread; the runtime (and the server) ends on drop.
struct HyperDemo {
    port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl HyperDemo {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime
            .block_on(promenade_examples::hyper_demo::spawn(
                "127.0.0.1:0".parse().unwrap(),
                Registry::new(),
            ))
            .unwrap();
        Self {
            port: addr.port(),
            runtime: Some(runtime),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn scrape(&self) -> String {
        let resp = http_get(&self.url("/metrics"), &[]).unwrap();
        assert_eq!(resp.status, 200);
        resp.text()
    }

    /// Scrapes until `ok` holds (at most 5 s): the response body may still be ending when
    /// the client has it.
    fn scrape_until(&self, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = self.scrape();
            if ok(&text) || Instant::now() >= deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for HyperDemo {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

fn requests(text: &str, method: &str, route: &str, status: &str) -> Option<f64> {
    sample_value(
        text,
        "http_requests_total",
        &format!("method=\"{method}\",route=\"{route}\",status=\"{status}\""),
    )
}

#[test]
fn plain_hyper_server_is_counted_exactly() {
    let demo = HyperDemo::start();
    for _ in 0..3 {
        assert_eq!(http_get(&demo.url("/"), &[]).unwrap().status, 200);
    }
    for id in ["1", "2", "abc"] {
        let resp = http_get(&demo.url(&format!("/users/{id}")), &[]).unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), format!("user {id}\n"));
    }
    assert_eq!(
        http_request("POST", &demo.url("/"), &[], b"x")
            .unwrap()
            .status,
        405
    );
    assert_eq!(http_get(&demo.url("/nope"), &[]).unwrap().status, 404);
    let text = demo.scrape_until(|t| requests(t, "GET", "unmatched", "404") == Some(1.0));
    assert_eq!(requests(&text, "GET", "/", "200"), Some(3.0), "{text}");
    assert_eq!(
        requests(&text, "GET", "/users/{id}", "200"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(requests(&text, "POST", "/", "405"), Some(1.0), "{text}");
    assert_eq!(
        requests(&text, "GET", "unmatched", "404"),
        Some(1.0),
        "{text}"
    );
    // Scrapes are not counted, raw paths never become labels.
    assert!(!text.contains("route=\"/metrics\""), "{text}");
    assert!(!text.contains("/users/abc"), "{text}");
    require_tool!(PROMTOOL);
    promtool_check_metrics(&text).unwrap();
}

#[test]
fn random_paths_add_no_series() {
    let demo = HyperDemo::start();
    assert_eq!(http_get(&demo.url("/nope"), &[]).unwrap().status, 404);
    let before = demo.scrape_until(|t| requests(t, "GET", "unmatched", "404") == Some(1.0));
    let series = |t: &str| series_count(t, "http_requests_total");
    let mut rng = Rng(7);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    while sent < 2_000 && Instant::now() < deadline {
        let path = format!("/{}/{}", rng.hex(8), rng.hex(4));
        assert_eq!(http_get(&demo.url(&path), &[]).unwrap().status, 404);
        sent += 1;
    }
    let expected = f64::from(sent + 1);
    let after = demo.scrape_until(|t| requests(t, "GET", "unmatched", "404") == Some(expected));
    assert_eq!(requests(&after, "GET", "unmatched", "404"), Some(expected));
    assert_eq!(series(&after), series(&before), "{after}");
}
