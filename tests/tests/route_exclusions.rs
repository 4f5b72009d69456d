//! Exclusions and the allow-list, declared once in the core builder, against real axum
//! (promenade-tower) and actix-web (promenade-actix) servers on 127.0.0.1:0 and a real HTTP
//! client: every exclusion kind leaves no series, the recorded requests are counted exactly,
//! and an excluded request that is still running leaves no trace in in-flight.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use promenade_core::Registry;
use promenade_core::http_metrics::HttpMetricsBuilder;
use promenade_tests::http_get;

const SETTLE: Duration = Duration::from_secs(5);

/// Holds requests to `/hold/...` until released, and counts how many started, so a test
/// can scrape while such a request is certainly in its handler.
struct Gate {
    started: AtomicUsize,
    release: tokio::sync::Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            started: AtomicUsize::new(0),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Gate {
    async fn hold(&self) {
        self.started.fetch_add(1, Ordering::SeqCst);
        // Bounded: a test that forgets to release does not hang the server forever.
        let _ = tokio::time::timeout(Duration::from_secs(20), self.release.acquire()).await;
    }

    /// Waits (at most 10 s) until `n` requests are in the handler.
    fn wait_started(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.started.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "held request did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

type Hook = fn(HttpMetricsBuilder) -> HttpMetricsBuilder;

/// The same routes in both frameworks; templates differ only where the frameworks write
/// them differently (`/static/{*file}` vs `/static/{file:.*}`).
fn axum_server(hook: Hook, gate: Arc<Gate>) -> AxumDemoServer {
    use axum::routing::get;
    let registry = Registry::new();
    let hold = {
        let gate = Arc::clone(&gate);
        move || {
            let gate = Arc::clone(&gate);
            async move {
                gate.hold().await;
                "released"
            }
        }
    };
    let app = axum::Router::new()
        .route("/", get(|| async { "root" }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/health/{probe}", get(|| async { "ok" }))
        .route("/static/{*file}", get(|| async { "asset" }))
        .route(
            "/users/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<String>| async move {
                    let status = if id == "0" { 404 } else { 200 };
                    (axum::http::StatusCode::from_u16(status).unwrap(), "user")
                },
            ),
        )
        .route(
            "/teapot",
            get(|| async { (axum::http::StatusCode::IM_A_TEAPOT, "tea") }),
        )
        .route("/hold/{what}", get(hold));
    let prometheus = promenade_tower::Prometheus::builder(&registry)
        .metrics(hook)
        .build()
        .expect("valid options");
    let app = promenade_tower::PrometheusRouterExt::with_prometheus(app, prometheus)
        .expect("router with routes");
    AxumDemoServer::serve(app, registry)
}

fn actix_server(hook: Hook, gate: Arc<Gate>) -> ActixDemoServer {
    use actix_web::{HttpResponse, web};
    let registry = Registry::new();
    let metrics = promenade_actix::PrometheusMetrics::builder(&registry)
        .metrics(hook)
        .build()
        .expect("valid options");
    ActixDemoServer::spawn("actix exclusions server", move || {
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .wrap(metrics.clone())
                .app_data(web::Data::from(Arc::clone(&gate)))
                .route("/", web::get().to(|| async { "root" }))
                .route("/healthz", web::get().to(|| async { "ok" }))
                .route("/health/{probe}", web::get().to(|| async { "ok" }))
                .route("/static/{file:.*}", web::get().to(|| async { "asset" }))
                .route(
                    "/users/{id}",
                    web::get().to(|id: web::Path<String>| async move {
                        if id.as_str() == "0" {
                            HttpResponse::NotFound().body("user")
                        } else {
                            HttpResponse::Ok().body("user")
                        }
                    }),
                )
                .route(
                    "/teapot",
                    web::get().to(|| async { HttpResponse::ImATeapot().body("tea") }),
                )
                .route(
                    "/hold/{what}",
                    web::get().to(|gate: web::Data<Gate>| async move {
                        gate.hold().await;
                        "released"
                    }),
                )
        })
        .workers(2)
        .shutdown_timeout(2)
        .disable_signals()
        .bind("127.0.0.1:0")?;
        let port = server.addrs().first().map_or(0, std::net::SocketAddr::port);
        Ok((server.run(), port))
    })
}

/// Sends `GET path` and checks the status.
fn get_status<D: Demo>(demo: &D, path: &str, status: u16) {
    let resp = http_get(&demo.url(path), &[]).unwrap();
    assert_eq!(resp.status, status, "{} GET {path}", D::ADAPTER);
}

fn total_requests(text: &str) -> f64 {
    all_samples(text, "http_requests_total")
        .iter()
        .map(|s| s.1)
        .sum()
}

/// Every exclusion kind at once: exact path, path prefix, route template, status, status of
/// unmatched requests. Only the requests no rule matches are counted, exactly.
fn every_exclusion_kind<D: Demo>(start: fn(Hook, Arc<Gate>) -> D) {
    let demo = start(
        |m| {
            m.exclude_path("/healthz")
                .exclude_path_prefix("/static/")
                .exclude_route("/health/{probe}")
                .exclude_status(418)
                .exclude_unmatched_status(404)
        },
        Arc::default(),
    );
    for _ in 0..3 {
        get_status(&demo, "/healthz", 200);
        get_status(&demo, "/static/css/app.css", 200);
        get_status(&demo, "/health/live", 200);
        get_status(&demo, "/health/ready", 200);
        get_status(&demo, "/teapot", 418);
        get_status(&demo, "/wp-login.php", 404);
    }
    // Recorded: the root, users, and a route's own 404 (only unmatched 404s are excluded).
    for (path, status, n) in [("/", 200, 2), ("/users/7", 200, 3), ("/users/0", 404, 1)] {
        for _ in 0..n {
            get_status(&demo, path, status);
        }
    }
    let text = demo.scrape_until(SETTLE, |t| total_requests(t) == 6.0);
    assert_eq!(requests(&text, "GET", "/", "200"), Some(2.0), "{text}");
    assert_eq!(
        requests(&text, "GET", "/users/{id}", "200"),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        requests(&text, "GET", "/users/{id}", "404"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(total_requests(&text), 6.0, "{} {text}", D::ADAPTER);
    for absent in [
        "/health",
        "/static",
        "/healthz",
        "status=\"418\"",
        "unmatched",
    ] {
        assert!(
            !text.contains(absent),
            "{}: {absent} recorded\n{text}",
            D::ADAPTER
        );
    }
    assert_eq!(total_in_flight(&text), 0.0, "{text}");
}

#[test]
fn axum_every_exclusion_kind() {
    every_exclusion_kind(axum_server);
}

#[test]
fn actix_every_exclusion_kind() {
    every_exclusion_kind(actix_server);
}

/// Allow-list mode: only the listed route templates are recorded; other routes and
/// unmatched requests are not.
fn allow_list<D: Demo>(start: fn(Hook, Arc<Gate>) -> D) {
    let demo = start(|m| m.allow_route("/users/{id}"), Arc::default());
    for (path, status) in [
        ("/", 200),
        ("/users/1", 200),
        ("/users/2", 200),
        ("/users/0", 404),
        ("/teapot", 418),
        ("/nope", 404),
        ("/health/live", 200),
    ] {
        get_status(&demo, path, status);
    }
    let text = demo.scrape_until(SETTLE, |t| total_requests(t) == 3.0);
    assert_eq!(
        requests(&text, "GET", "/users/{id}", "200"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        requests(&text, "GET", "/users/{id}", "404"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(total_requests(&text), 3.0, "{} {text}", D::ADAPTER);
    // Scrapes are not on the list either.
    assert!(!text.contains("route=\"/metrics\""), "{text}");
    assert_eq!(total_in_flight(&text), 0.0, "{text}");
}

#[test]
fn axum_allow_list() {
    allow_list(axum_server);
}

#[test]
fn actix_allow_list() {
    allow_list(actix_server);
}

/// While an excluded request is running it is not in flight; a recorded one is (the
/// control that shows the scrape really happens while requests are held).
fn running_excluded_request_leaves_no_trace<D: Demo>(start: fn(Hook, Arc<Gate>) -> D) {
    let gate = Arc::new(Gate::default());
    let demo = start(|m| m.exclude_route("/hold/{what}"), Arc::clone(&gate));
    let url = demo.url("/hold/excluded");
    let client = std::thread::spawn(move || http_get(&url, &[]).map(|r| r.status));
    gate.wait_started(1);
    let text = demo.scrape();
    assert_eq!(total_in_flight(&text), 0.0, "{}\n{text}", D::ADAPTER);
    assert!(!text.contains("/hold"), "{text}");
    gate.release.add_permits(1);
    assert_eq!(client.join().unwrap(), Ok(200));
    let text = demo.scrape();
    assert_eq!(total_requests(&text), 0.0, "{text}");
    assert_eq!(total_in_flight(&text), 0.0, "{text}");
}

#[test]
fn axum_running_excluded_request_leaves_no_trace() {
    running_excluded_request_leaves_no_trace(axum_server);
}

#[test]
fn actix_running_excluded_request_leaves_no_trace() {
    running_excluded_request_leaves_no_trace(actix_server);
}

/// The control for the test above: the same held request, recorded, is in flight.
fn running_recorded_request_is_in_flight<D: Demo>(start: fn(Hook, Arc<Gate>) -> D) {
    let gate = Arc::new(Gate::default());
    let demo = start(|m| m.exclude_route("/health/{probe}"), Arc::clone(&gate));
    let url = demo.url("/hold/recorded");
    let client = std::thread::spawn(move || http_get(&url, &[]).map(|r| r.status));
    gate.wait_started(1);
    let text = demo.scrape();
    assert_eq!(
        sample(&text, "http_requests_in_flight", "method=\"GET\""),
        Some(1.0),
        "{}\n{text}",
        D::ADAPTER
    );
    gate.release.add_permits(1);
    assert_eq!(client.join().unwrap(), Ok(200));
    let text = demo.scrape_until(SETTLE, |t| total_in_flight(t) == 0.0);
    assert_eq!(
        requests(&text, "GET", "/hold/{what}", "200"),
        Some(1.0),
        "{text}"
    );
}

#[test]
fn axum_running_recorded_request_is_in_flight() {
    running_recorded_request_is_in_flight(axum_server);
}

#[test]
fn actix_running_recorded_request_is_in_flight() {
    running_recorded_request_is_in_flight(actix_server);
}

/// Invalid options are refused at build with a message naming what was given, through
/// either adapter's hook.
#[test]
fn invalid_exclusions_are_refused_with_the_value_given() {
    type Case = (Hook, &'static str);
    let cases: &[Case] = &[
        (
            |m| m.exclude_route("health/{probe}"),
            "exclude_route(\"health/{probe}\")",
        ),
        (|m| m.allow_route("/a/{b"), "allow_route(\"/a/{b\")"),
        (|m| m.exclude_path_prefix(""), "exclude_path_prefix(\"\")"),
        (|m| m.exclude_status(1000), "exclude_status(1000)"),
        (
            |m| m.exclude_unmatched_status(42),
            "exclude_unmatched_status(42)",
        ),
    ];
    for (hook, needle) in cases {
        let tower = promenade_tower::Prometheus::builder(&Registry::new())
            .metrics(hook)
            .build()
            .unwrap_err()
            .to_string();
        let actix = promenade_actix::PrometheusMetrics::builder(&Registry::new())
            .metrics(hook)
            .build()
            .unwrap_err()
            .to_string();
        assert!(tower.contains(needle), "{tower}");
        assert_eq!(tower, actix);
    }
}
