//! Faults in the scrape path must never hang a server, drop a connection or hold an executor
//! thread, on the axum, actix-web and tonic adapters alike, over real TCP on 127.0.0.1.
//!
//! * `*_slow_collector_does_not_stall_requests`: a collector that sleeps [`SLOW`] is
//!   registered in the demo's registry and scrapes are in flight on several connections
//!   (enough to occupy every executor thread of the demo if the scrape ran on it); plain
//!   requests (`GET /`, a unary gRPC call for tonic) must still answer within
//!   [`PROMPT`], and the scrapes must still answer 200.
//! * `*_panicking_collector_is_a_500`: a collector that panics makes the scrape answer 500
//!   with a body naming the collector (its family `exploding_gauge`), and the connection
//!   stays usable for the next request.
//! * `*_head_runs_no_collector`: `HEAD /metrics`, on the demo's scrape route and on the
//!   adapter's plain one (tower `MetricsService`, actix `metrics_route`, tonic's listener),
//!   answers the GET's `Content-Type`, `Vary` and `Content-Encoding`, without
//!   `Content-Length` (the length is not known without encoding) and without calling any
//!   collector; the keep-alive connection stays in sync.
//! * `*_concurrency_limit_gives_503` and `*_timeout_gives_503`: a [`ScrapeHandler`] with
//!   `max_concurrent_scrapes(1)` answers a second concurrent scrape 503 at once with
//!   `Retry-After`; one with `timeout` answers 503 when the collectors have not
//!   finished in time, and keeps the slot until the abandoned work really ends, so a
//!   collector never runs twice at once.
//! * `*_slow_header_clients_are_cut_off`: 200 clients sending one header byte per second
//!   are disconnected by the demo servers' header-read timeout, and scrapes keep working
//!   meanwhile.
//!
//! Every wait is bounded; pass/fail timings are generous (a loaded 2-core machine).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::*;
use promenade_core::Registry;
use promenade_core::scrape::ScrapeHandler;
use promenade_tests::{HttpResponse, http_get};

/// How long the slow collector sleeps.
const SLOW: Duration = Duration::from_secs(3);
/// Upper bound for a plain request while scrapes are in flight (normally a few ms).
const PROMPT: Duration = Duration::from_secs(1);
/// Scrapes started at once in the stall test: more than the demos' executor threads (2).
const PARALLEL_SCRAPES: usize = 4;
/// Longest wait for anything that should happen "soon".
const WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adapter {
    Axum,
    Actix,
    Tonic,
}

/// A demo server of one adapter and the registry its scrape route exposes.
enum Server {
    Axum(AxumDemoServer),
    Actix(ActixDemoServer),
    Tonic(TonicDemoServer),
}

impl Server {
    fn port(&self) -> u16 {
        match self {
            Server::Axum(s) => s.port(),
            Server::Actix(s) => s.port(),
            Server::Tonic(s) => s.port(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }
}

/// Starts the adapter's demo as the demos are started (axum and tonic: the demos
/// themselves; actix: the demo's middleware and routes on a registry of ours, since the
/// actix demo server keeps its registry to itself).
fn start_demo(adapter: Adapter) -> (Server, Registry) {
    match adapter {
        Adapter::Axum => {
            let server = AxumDemoServer::start();
            let registry = server.registry.clone();
            (Server::Axum(server), registry)
        }
        Adapter::Actix => {
            let registry = Registry::new();
            let metrics = promenade_examples::actix_demo::metrics(&registry).unwrap();
            let server = ActixDemoServer::serve(metrics, promenade_examples::actix_demo::routes);
            (Server::Actix(server), registry)
        }
        Adapter::Tonic => {
            let server = TonicDemoServer::start();
            let registry = server.registry.clone();
            (Server::Tonic(server), registry)
        }
    }
}

/// Registers a gauge whose callback sleeps `delay` on every scrape; returns its call count.
fn slow_collector(registry: &Registry, delay: Duration) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    registry
        .gauge_fn(
            "slow_collector_seconds",
            "Sleeps on every scrape.",
            move || {
                counted.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(delay);
                delay.as_secs_f64()
            },
        )
        .unwrap();
    calls
}

/// Registers a gauge that counts how often it is collected.
fn counting_collector(registry: &Registry) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    registry
        .gauge_fn("collected_total_calls", "Counts collections.", move || {
            counted.fetch_add(1, Ordering::SeqCst) as f64
        })
        .unwrap();
    calls
}

/// Waits until `done` holds, at most `limit`; returns whether it did.
fn wait_for(limit: Duration, done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// Sends `count` plain requests one after the other (each on a new connection) and
/// returns how long each took. Plain means `GET /` (axum, actix) or a unary gRPC call on a
/// channel connected beforehand (tonic).
fn plain_requests(server: &Server, count: usize) -> Vec<Result<Duration, String>> {
    match server {
        Server::Tonic(s) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut client = promenade_tonic_demo::DemoClient::new(s.channel().await);
                let mut took = Vec::new();
                for _ in 0..count {
                    let started = Instant::now();
                    let call = client.unary(promenade_tonic_demo::Ping {
                        text: "while scraping".into(),
                        ..Default::default()
                    });
                    took.push(match tokio::time::timeout(WAIT, call).await {
                        Ok(Ok(_)) => Ok(started.elapsed()),
                        Ok(Err(status)) => Err(format!("unary call failed: {status}")),
                        Err(_) => Err(format!("unary call took more than {WAIT:?}")),
                    });
                }
                took
            })
        }
        _ => (0..count)
            .map(|_| {
                let started = Instant::now();
                // A fresh connection each time, so it may land on any worker.
                let mut raw = RawClient::connect(server.port());
                let resp = raw
                    .send(
                        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                        false,
                    )
                    .map_err(|e| format!("GET /: {e}"))?;
                if resp.status != 200 {
                    return Err(format!("GET / answered {}", resp.status));
                }
                Ok(started.elapsed())
            })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------
// (a) A slow collector must not stall the executor.

fn slow_collector_does_not_stall_requests(adapter: Adapter) {
    let (server, registry) = start_demo(adapter);
    // The server answers before the slow collector exists.
    for r in plain_requests(&server, 1) {
        r.unwrap();
    }
    let calls = slow_collector(&registry, SLOW);
    let url = server.url("/metrics");
    let scrapers: Vec<_> = (0..PARALLEL_SCRAPES)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || http_get(&url, &[]))
        })
        .collect();
    assert!(
        wait_for(WAIT, || calls.load(Ordering::SeqCst) >= 1),
        "[{adapter:?}] no scrape reached the slow collector"
    );
    // Give the other scrapes time to reach the server (and, if scrapes ran on the
    // executor, to occupy its other thread too).
    std::thread::sleep(Duration::from_millis(300));
    let in_flight_since = Instant::now();
    let took = plain_requests(&server, 3);
    let still_in_flight = in_flight_since.elapsed() < SLOW - Duration::from_millis(500);
    for (i, t) in took.iter().enumerate() {
        let t = t
            .as_ref()
            .unwrap_or_else(|e| panic!("[{adapter:?}] request {i}: {e}"));
        assert!(
            *t < PROMPT,
            "[{adapter:?}] request {i} took {t:?} while a scrape was in flight"
        );
    }
    // The requests were really made while the collector was sleeping.
    assert!(still_in_flight, "[{adapter:?}] the requests came too late");
    for s in scrapers {
        let resp: HttpResponse = s.join().unwrap().unwrap();
        assert_eq!(resp.status, 200, "[{adapter:?}] {}", resp.text());
        assert!(resp.text().contains("slow_collector_seconds 3"));
    }
}

#[test]
fn axum_slow_collector_does_not_stall_requests() {
    slow_collector_does_not_stall_requests(Adapter::Axum);
}

#[test]
fn actix_slow_collector_does_not_stall_requests() {
    slow_collector_does_not_stall_requests(Adapter::Actix);
}

#[test]
fn tonic_slow_collector_does_not_stall_requests() {
    slow_collector_does_not_stall_requests(Adapter::Tonic);
}

// ---------------------------------------------------------------------------------------
// (b) A panicking collector is a 500, not a dropped connection.

const SCRAPE: &[u8] = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

fn panicking_collector_is_a_500(adapter: Adapter) {
    let (server, registry) = start_demo(adapter);
    registry
        .gauge_fn("exploding_gauge", "Panics on every scrape.", || {
            panic!("deliberate panic in a test collector")
        })
        .unwrap();
    let mut raw = RawClient::connect(server.port());
    for round in 0..2 {
        let resp = raw.send(SCRAPE, false).unwrap_or_else(|e| {
            panic!("[{adapter:?}] scrape {round}: connection dropped instead of a 500: {e}")
        });
        let body = String::from_utf8_lossy(&resp.body).into_owned();
        assert_eq!(resp.status, 500, "[{adapter:?}] scrape {round}: {body}");
        assert!(
            body.contains("exploding_gauge"),
            "[{adapter:?}] the 500 body does not name the collector: {body:?}"
        );
        assert!(!body.contains("# TYPE"), "[{adapter:?}] {body}");
    }
}

#[test]
fn axum_panicking_collector_is_a_500() {
    panicking_collector_is_a_500(Adapter::Axum);
}

#[test]
fn actix_panicking_collector_is_a_500() {
    panicking_collector_is_a_500(Adapter::Actix);
}

#[test]
fn tonic_panicking_collector_is_a_500() {
    panicking_collector_is_a_500(Adapter::Tonic);
}

// ---------------------------------------------------------------------------------------
// (c) HEAD: the GET's headers, no collector, no Content-Length.

fn head_runs_no_collector(adapter: Adapter) {
    // The demo's scrape route, and the adapter's plain scrape route.
    let (demo, registry) = start_demo(adapter);
    check_head(adapter, demo.port(), &registry);
    let registry = Registry::new();
    let plain = serve_handler(adapter, &registry, ScrapeHandler::new(registry.clone()));
    check_head(adapter, plain.port, &registry);
}

fn check_head(adapter: Adapter, port: u16, registry: &Registry) {
    let calls = counting_collector(registry);
    let mut raw = RawClient::connect(port);
    for gzip in [false, true] {
        let extra = if gzip {
            "Accept-Encoding: gzip\r\n"
        } else {
            ""
        };
        let request = |method: &str| {
            format!("{method} /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n").into_bytes()
        };
        let get = raw.send(&request("GET"), false).unwrap();
        assert_eq!(get.status, 200, "[{adapter:?}]");
        let before = calls.load(Ordering::SeqCst);
        let head = raw.send(&request("HEAD"), true).unwrap();
        assert_eq!(head.status, 200, "[{adapter:?}]");
        assert_eq!(
            calls.load(Ordering::SeqCst),
            before,
            "[{adapter:?}] HEAD ran the collectors"
        );
        for name in ["content-type", "vary", "content-encoding"] {
            assert_eq!(
                head.header(name),
                get.header(name),
                "[{adapter:?}] gzip={gzip}: HEAD and GET differ in {name}"
            );
        }
        assert_eq!(
            head.header("content-encoding").is_some(),
            gzip,
            "[{adapter:?}]"
        );
        assert!(
            head.header("content-length").is_none(),
            "[{adapter:?}] port {port}, gzip={gzip}: HEAD claims Content-Length {:?}",
            head.header("content-length").map(String::from_utf8_lossy)
        );
        assert!(head.body.is_empty());
        // The connection is still in step: the next GET gets a full exposition.
        let again = raw.send(&request("GET"), false).unwrap();
        assert_eq!(again.status, 200, "[{adapter:?}]");
        assert_eq!(calls.load(Ordering::SeqCst), before + 1, "[{adapter:?}]");
        if !gzip {
            assert!(String::from_utf8_lossy(&again.body).contains("collected_total_calls"));
        }
    }
}

#[test]
fn axum_head_runs_no_collector() {
    head_runs_no_collector(Adapter::Axum);
}

#[test]
fn actix_head_runs_no_collector() {
    head_runs_no_collector(Adapter::Actix);
}

#[test]
fn tonic_head_runs_no_collector() {
    head_runs_no_collector(Adapter::Tonic);
}

// ---------------------------------------------------------------------------------------
// (d) Concurrency limit and timeout: 503.

/// A collector that blocks while its gate is closed (at most [`WAIT`]), counting the
/// collections that started and those that ended.
struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
    started: AtomicUsize,
    finished: AtomicUsize,
}

impl Gate {
    fn register(registry: &Registry) -> Arc<Gate> {
        let gate = Arc::new(Gate {
            open: Mutex::new(false),
            changed: Condvar::new(),
            started: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
        });
        let g = Arc::clone(&gate);
        registry
            .gauge_fn("gated_collector_value", "Waits for its gate.", move || {
                g.started.fetch_add(1, Ordering::SeqCst);
                let open = g.open.lock().unwrap();
                let _open = g
                    .changed
                    .wait_timeout_while(open, WAIT, |open| !*open)
                    .unwrap();
                g.finished.fetch_add(1, Ordering::SeqCst);
                1.0
            })
            .unwrap();
        gate
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.changed.notify_all();
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }
}

/// `metrics_route` on a plain actix app (no middleware), next to `GET /`.
fn actix_route_server(handler: ScrapeHandler) -> ActixDemoServer {
    ActixDemoServer::spawn("actix server", move || {
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .configure(promenade_actix::metrics_route(handler.clone()))
                .route("/", actix_web::web::get().to(|| async { "hello\n" }))
        })
        .workers(2)
        .shutdown_timeout(2)
        .bind("127.0.0.1:0")?;
        let port = server.addrs().first().map_or(0, std::net::SocketAddr::port);
        Ok((server.run(), port))
    })
}

/// The tonic adapter's own scrape listener (`spawn_metrics_server`, what the tonic demo
/// serves with `--metrics-addr`) on a runtime of its own (two workers) until drop.
struct TonicMetricsServer {
    port: u16,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TonicMetricsServer {
    fn start(handler: ScrapeHandler) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime
            .block_on(promenade_tonic::spawn_metrics_server(
                "127.0.0.1:0".parse().unwrap(),
                handler,
            ))
            .unwrap();
        Self {
            port: addr.port(),
            runtime: Some(runtime),
        }
    }
}

impl Drop for TonicMetricsServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// A running server and its port, whatever the adapter.
struct Running {
    port: u16,
    _server: Box<dyn std::any::Any>,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// Serves `handler` at `/metrics` with each adapter's scrape route: the tower
/// `MetricsService` in an axum method router, actix's `metrics_route`, tonic's listener.
fn serve_handler(adapter: Adapter, registry: &Registry, handler: ScrapeHandler) -> Running {
    match adapter {
        Adapter::Axum => {
            let app = ::axum::Router::new()
                .route("/", ::axum::routing::get(|| async { "hello\n" }))
                // Through a method router (the demo uses `route_service`): axum then fills in
                // `Content-Length` from the body's size hint, which HEAD must not get.
                .route(
                    "/metrics",
                    ::axum::routing::any_service(promenade_tower::MetricsService::new(handler)),
                );
            let server = AxumDemoServer::serve(app, registry.clone());
            Running {
                port: server.port(),
                _server: Box::new(server),
            }
        }
        Adapter::Actix => {
            let server = actix_route_server(handler);
            Running {
                port: server.port(),
                _server: Box::new(server),
            }
        }
        Adapter::Tonic => {
            let server = TonicMetricsServer::start(handler);
            Running {
                port: server.port,
                _server: Box::new(server),
            }
        }
    }
}

fn assert_unavailable(resp: &HttpResponse, reason: &str, what: &str) {
    assert_eq!(resp.status, 503, "{what}: {}", resp.text());
    assert_eq!(resp.header("retry-after"), Some("1"), "{what}");
    assert!(
        resp.text().contains(reason) && resp.body.len() < 200,
        "{what}: body {:?}",
        resp.text()
    );
    assert!(!resp.text().contains("gated_collector_value"), "{what}");
}

fn concurrency_limit_gives_503(adapter: Adapter) {
    let registry = Registry::new();
    let gate = Gate::register(&registry);
    let handler = ScrapeHandler::builder(&registry)
        .max_concurrent_scrapes(1)
        .build()
        .unwrap();
    let server = serve_handler(adapter, &registry, handler);
    let url = server.url("/metrics");
    let first = {
        let url = url.clone();
        std::thread::spawn(move || http_get(&url, &[]))
    };
    assert!(
        wait_for(WAIT, || gate.started() == 1),
        "[{adapter:?}] the first scrape did not start"
    );
    let started = Instant::now();
    let busy = http_get(&url, &[]).unwrap();
    let took = started.elapsed();
    assert_unavailable(
        &busy,
        "too many concurrent scrapes",
        &format!("{adapter:?}"),
    );
    assert!(took < PROMPT, "[{adapter:?}] the 503 took {took:?}");
    assert_eq!(
        gate.started(),
        1,
        "[{adapter:?}] the refused scrape collected"
    );
    // HEAD runs no collector and takes no slot.
    let head = promenade_tests::http_request("HEAD", &url, &[], b"").unwrap();
    assert_eq!(head.status, 200, "[{adapter:?}]");
    gate.open();
    let first = first.join().unwrap().unwrap();
    assert_eq!(first.status, 200, "[{adapter:?}] {}", first.text());
    // The slot is free again.
    let next = http_get(&url, &[]).unwrap();
    assert_eq!(next.status, 200, "[{adapter:?}] {}", next.text());
    assert!(next.text().contains("gated_collector_value 1"));
}

#[test]
fn axum_concurrency_limit_gives_503() {
    concurrency_limit_gives_503(Adapter::Axum);
}

#[test]
fn actix_concurrency_limit_gives_503() {
    concurrency_limit_gives_503(Adapter::Actix);
}

#[test]
fn tonic_concurrency_limit_gives_503() {
    concurrency_limit_gives_503(Adapter::Tonic);
}

const SCRAPE_TIMEOUT: Duration = Duration::from_millis(300);

fn timeout_gives_503(adapter: Adapter) {
    let registry = Registry::new();
    let gate = Gate::register(&registry);
    let handler = ScrapeHandler::builder(&registry)
        .max_concurrent_scrapes(1)
        .timeout(SCRAPE_TIMEOUT)
        .build()
        .unwrap();
    let server = serve_handler(adapter, &registry, handler);
    let url = server.url("/metrics");
    let started = Instant::now();
    let timed_out = http_get(&url, &[]).unwrap();
    let took = started.elapsed();
    assert_unavailable(&timed_out, "timed out", &format!("{adapter:?}"));
    assert!(
        took >= SCRAPE_TIMEOUT && took < SCRAPE_TIMEOUT + PROMPT,
        "[{adapter:?}] the timeout answer came after {took:?}"
    );
    // The abandoned collection still runs and keeps its slot: no second one starts.
    assert_eq!((gate.started(), gate.finished()), (1, 0), "[{adapter:?}]");
    let busy = http_get(&url, &[]).unwrap();
    assert_unavailable(
        &busy,
        "too many concurrent scrapes",
        &format!("{adapter:?}"),
    );
    assert_eq!(gate.started(), 1, "[{adapter:?}] work piled up");
    // Once the work really ends, the slot is free and scrapes succeed again.
    gate.open();
    assert!(wait_for(WAIT, || gate.finished() == 1), "[{adapter:?}]");
    let deadline = Instant::now() + WAIT;
    let ok = loop {
        let resp = http_get(&url, &[]).unwrap();
        if resp.status == 200 || Instant::now() >= deadline {
            break resp;
        }
        // Only between the collector's end and the end of encoding: still busy.
        assert_unavailable(
            &resp,
            "too many concurrent scrapes",
            &format!("{adapter:?}"),
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(ok.status, 200, "[{adapter:?}] {}", ok.text());
    assert!(ok.text().contains("gated_collector_value 1"));
}

#[test]
fn axum_timeout_gives_503() {
    timeout_gives_503(Adapter::Axum);
}

#[test]
fn actix_timeout_gives_503() {
    timeout_gives_503(Adapter::Actix);
}

#[test]
fn tonic_timeout_gives_503() {
    timeout_gives_503(Adapter::Tonic);
}

// ---------------------------------------------------------------------------------------
// (e) Clients that send their request head a byte per second are cut off.

/// Slow connections per adapter.
const SLOW_CLIENTS: usize = 200;
/// The servers' header-read timeout (the same in all three, checked in the test).
const HEADER_READ_TIMEOUT: Duration = promenade_examples::axum_demo::HEADER_READ_TIMEOUT;

/// One test of this kind at a time: each holds 2 × [`SLOW_CLIENTS`] descriptors.
static SLOW_CLIENT_TESTS: Mutex<()> = Mutex::new(());

/// Opens [`SLOW_CLIENTS`] connections that send a request head one byte per second and
/// checks that the server closes every one of them soon after `timeout`, while scrapes
/// keep answering promptly.
fn slow_header_clients_are_cut_off(port: u16, timeout: Duration, what: &str) {
    let _one_at_a_time = SLOW_CLIENT_TESTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Far longer than the test runs at one byte per second: the head never completes.
    let head = format!(
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {}",
        "z".repeat(100)
    )
    .into_bytes();
    let started = Instant::now();
    let mut clients: Vec<(TcpStream, Option<Duration>)> = (0..SLOW_CLIENTS)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_nonblocking(true).unwrap();
            (s, None)
        })
        .collect();
    let limit = timeout + Duration::from_secs(5);
    let scrape_url = format!("http://127.0.0.1:{port}/metrics");
    let mut sent = 0;
    while clients.iter().any(|(_, closed)| closed.is_none()) && started.elapsed() < limit {
        for (stream, closed) in clients.iter_mut().filter(|(_, c)| c.is_none()) {
            let mut buf = [0u8; 512];
            // Closed (EOF, reset) or answered (a 408): either way the server let go.
            let gone = match stream.read(&mut buf) {
                Ok(_) => true,
                Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
            } || stream.write_all(&head[sent..=sent]).is_err();
            if gone {
                *closed = Some(started.elapsed());
            }
        }
        sent = (sent + 1).min(head.len() - 1);
        // Scrapes are served meanwhile.
        let scrape_started = Instant::now();
        let resp = http_get(&scrape_url, &[]).unwrap();
        assert_eq!(resp.status, 200, "{what}");
        assert!(
            scrape_started.elapsed() < PROMPT,
            "{what}: a scrape took {:?} among slow clients",
            scrape_started.elapsed()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let open = clients.iter().filter(|(_, c)| c.is_none()).count();
    assert_eq!(
        open,
        0,
        "{what}: {open} of {SLOW_CLIENTS} slow clients still connected after {:?}",
        started.elapsed()
    );
    let first = clients.iter().filter_map(|(_, c)| *c).min().unwrap();
    // Cut off by the header timeout, not at once for some other reason.
    assert!(
        first + Duration::from_secs(2) >= timeout,
        "{what}: first client cut off after {first:?}"
    );
}

#[test]
fn axum_slow_header_clients_are_cut_off() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let registry = Registry::new();
    rt.spawn(async move { promenade_examples::axum_demo::serve(listener, &registry).await });
    slow_header_clients_are_cut_off(port, HEADER_READ_TIMEOUT, "axum demo");
    rt.shutdown_timeout(Duration::from_secs(5));
}

#[test]
fn actix_slow_header_clients_are_cut_off() {
    assert_eq!(
        promenade_examples::actix_demo::HEADER_READ_TIMEOUT,
        HEADER_READ_TIMEOUT
    );
    let server = ActixDemoServer::start();
    slow_header_clients_are_cut_off(server.port(), HEADER_READ_TIMEOUT, "actix demo");
}

#[test]
fn tonic_slow_header_clients_are_cut_off() {
    assert_eq!(promenade_tonic::HEADER_READ_TIMEOUT, HEADER_READ_TIMEOUT);
    let server = TonicMetricsServer::start(ScrapeHandler::new(Registry::new()));
    slow_header_clients_are_cut_off(server.port, HEADER_READ_TIMEOUT, "tonic metrics listener");
}
