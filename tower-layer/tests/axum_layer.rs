//! The layer inside axum routers: labels, routing shapes, every way a request can end.
// Test helpers outside #[test] functions unwrap too; a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use common::*;
use http::StatusCode;
use http_body_util::BodyExt;
use promenade_core::Registry;
use promenade_tower::{HttpMetricsLayer, Prometheus, PrometheusRouterExt};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;

fn app(registry: &Registry) -> Router {
    Router::new()
        .route("/", get(|| async { "root" }))
        .route("/users/{id}", get(|| async { "user" }))
        .route("/echo", post(|b: bytes::Bytes| async move { b }))
        .with_prometheus(Prometheus::new(registry).unwrap())
        .unwrap()
}

#[tokio::test]
async fn counts_exactly_per_method_route_status() {
    let registry = Registry::new();
    let app = app(&registry);
    for _ in 0..3 {
        assert_eq!(send(&app, req("GET", "/")).await.0, StatusCode::OK);
    }
    send(&app, req("GET", "/users/1")).await;
    send(&app, req("GET", "/users/2")).await;
    send(&app, req("HEAD", "/users/3")).await;
    assert_eq!(
        send(&app, req("POST", "/users/1")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        send(&app, req("GET", "/nope")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(&app, req("POST", "/echo")).await.0, StatusCode::OK);

    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/", "200"), Some(3.0));
    assert_eq!(requests(&t, "GET", "/users/{id}", "200"), Some(2.0));
    assert_eq!(requests(&t, "HEAD", "/users/{id}", "200"), Some(1.0));
    assert_eq!(requests(&t, "POST", "/users/{id}", "405"), Some(1.0));
    assert_eq!(requests(&t, "GET", "unmatched", "404"), Some(1.0));
    assert_eq!(requests(&t, "POST", "/echo", "200"), Some(1.0));
    assert_eq!(series_count(&t, "http_requests_total"), 6, "{t}");
    assert_eq!(
        sample(
            &t,
            "http_request_duration_seconds_count",
            r#"method="GET",route="/",status="200""#
        ),
        Some(3.0)
    );
    assert_eq!(total_in_flight(&t), 0.0);
    // Raw paths never become labels.
    assert!(!t.contains("/users/1"), "{t}");
    assert!(!t.contains("/nope"), "{t}");
}

#[tokio::test]
async fn nested_and_merged_routers_get_full_templates() {
    let registry = Registry::new();
    let api = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .nest(
            "/v2",
            Router::new().route("/items/{item}", get(|| async { "item" })),
        );
    let app = Router::new()
        .nest("/api", api)
        .merge(Router::new().route("/health", get(|| async { "ok" })))
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap();
    send(&app, req("GET", "/api/users/9")).await;
    send(&app, req("GET", "/api/v2/items/x")).await;
    send(&app, req("GET", "/health")).await;
    send(&app, req("GET", "/api/nothing")).await;
    let t = text(&registry);
    assert_eq!(
        requests(&t, "GET", "/api/users/{id}", "200"),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        requests(&t, "GET", "/api/v2/items/{item}", "200"),
        Some(1.0),
        "{t}"
    );
    assert_eq!(requests(&t, "GET", "/health", "200"), Some(1.0), "{t}");
    assert_eq!(requests(&t, "GET", "unmatched", "404"), Some(1.0), "{t}");
}

#[tokio::test]
async fn fallback_and_odd_methods_are_unmatched_and_other() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/", get(|| async { "root" }))
        .fallback(|| async { (StatusCode::IM_A_TEAPOT, "fallback") })
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap();
    for (i, m) in ["BREW", "PROPFIND", "get", "X-CUSTOM", "GET"]
        .iter()
        .enumerate()
    {
        let status = send(&app, req(m, &format!("/random/{i}?q={i}"))).await.0;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
    }
    let t = text(&registry);
    assert_eq!(requests(&t, "_OTHER", "unmatched", "418"), Some(4.0), "{t}");
    assert_eq!(requests(&t, "GET", "unmatched", "418"), Some(1.0), "{t}");
    assert_eq!(series_count(&t, "http_requests_total"), 2, "{t}");
}

#[tokio::test]
async fn extra_methods_keep_their_name() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/", get(|| async { "root" }))
        .with_prometheus(
            Prometheus::builder(&registry)
                .metrics(|m| m.extra_methods(&["PROPFIND"]))
                .build()
                .unwrap(),
        )
        .unwrap();
    send(&app, req("PROPFIND", "/")).await;
    let t = text(&registry);
    assert_eq!(requests(&t, "PROPFIND", "/", "405"), Some(1.0), "{t}");
}

async fn boom() -> &'static str {
    panic!("boom")
}

#[tokio::test]
async fn panic_caught_inside_the_layer_is_500() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/panic", get(boom))
        .layer(CatchPanicLayer::new())
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap();
    assert_eq!(
        send(&app, req("GET", "/panic")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/panic", "500"), Some(1.0), "{t}");
    assert_eq!(in_flight(&t, "GET"), Some(0.0));
}

#[tokio::test]
async fn panic_caught_outside_the_layer_is_500() {
    let registry = Registry::new();
    // The metrics layer is innermost: the panic unwinds through its future.
    let app = Router::new()
        .route("/panic", get(boom))
        .layer(HttpMetricsLayer::builder(&registry).build().unwrap())
        .layer(CatchPanicLayer::new());
    assert_eq!(
        send(&app, req("GET", "/panic")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/panic", "500"), Some(1.0), "{t}");
    assert_eq!(in_flight(&t, "GET"), Some(0.0));
}

#[tokio::test]
async fn cancelled_request_is_499_and_leaves_in_flight_at_zero() {
    let registry = Registry::new();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap();
    let fut = app.clone().oneshot(req("GET", "/slow"));
    let mut fut = Box::pin(fut);
    // Poll it once so the handler is running, then check in-flight and drop it.
    assert!(
        tokio::time::timeout(Duration::from_millis(20), &mut fut)
            .await
            .is_err()
    );
    assert_eq!(in_flight(&text(&registry), "GET"), Some(1.0));
    drop(fut);
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/slow", "499"), Some(1.0), "{t}");
    assert_eq!(in_flight(&t, "GET"), Some(0.0));
}

/// With `in_flight_by_route(true)` in-flight carries the route again (axum knows it before
/// the handler runs, so it costs nothing here), and a cancelled request still lowers it.
#[tokio::test]
async fn in_flight_by_route_labels_method_and_route() {
    let registry = Registry::new();
    let app = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .with_prometheus(
            Prometheus::builder(&registry)
                .metrics(|m| m.in_flight_by_route(true))
                .build()
                .unwrap(),
        )
        .unwrap();
    let mut fut = Box::pin(app.clone().oneshot(req("GET", "/slow")));
    assert!(
        tokio::time::timeout(Duration::from_millis(20), &mut fut)
            .await
            .is_err()
    );
    let t = text(&registry);
    let by_route = r#"method="GET",route="/slow""#;
    assert_eq!(
        sample(&t, "http_requests_in_flight", by_route),
        Some(1.0),
        "{t}"
    );
    assert_eq!(in_flight(&t, "GET"), None, "{t}");
    drop(fut);
    let t = text(&registry);
    assert_eq!(
        sample(&t, "http_requests_in_flight", by_route),
        Some(0.0),
        "{t}"
    );
    assert_eq!(requests(&t, "GET", "/slow", "499"), Some(1.0), "{t}");
}

/// Three chunks, 40 ms apart.
fn slow_stream() -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(1);
    tokio::spawn(async move {
        for i in 0..3 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            if tx
                .send(bytes::Bytes::from(format!("chunk {i}\n")))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    Body::new(ChannelBody(rx))
}

struct ChannelBody(tokio::sync::mpsc::Receiver<bytes::Bytes>);

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|c| c.map(|b| Ok(http_body::Frame::data(b))))
    }
}

#[tokio::test]
async fn streaming_duration_ends_with_the_body() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/stream", get(|| async { slow_stream() }))
        .with_prometheus(
            Prometheus::builder(&registry)
                .metrics(|m| m.body_sizes(true))
                .build()
                .unwrap(),
        )
        .unwrap();
    let resp = app.clone().oneshot(req("GET", "/stream")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Head received, body not yet: still in flight, not yet counted.
    let t = text(&registry);
    assert_eq!(in_flight(&t, "GET"), Some(1.0), "{t}");
    assert_eq!(requests(&t, "GET", "/stream", "200"), None, "{t}");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 24);
    let t = text(&registry);
    let labels = r#"method="GET",route="/stream",status="200""#;
    assert_eq!(requests(&t, "GET", "/stream", "200"), Some(1.0));
    assert_eq!(in_flight(&t, "GET"), Some(0.0));
    let sum = sample(&t, "http_request_duration_seconds_sum", labels).unwrap();
    assert!(sum >= 0.11, "duration {sum} must cover the whole body");
    assert_eq!(
        sample(&t, "http_response_size_bytes_sum", labels),
        Some(24.0)
    );
}

#[tokio::test]
async fn body_dropped_mid_stream_is_recorded_once() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/stream", get(|| async { slow_stream() }))
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap();
    let resp = app.clone().oneshot(req("GET", "/stream")).await.unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    drop(body);
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/stream", "200"), Some(1.0), "{t}");
    assert_eq!(in_flight(&t, "GET"), Some(0.0));
}

#[tokio::test]
async fn request_and_response_sizes() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/echo", post(|b: bytes::Bytes| async move { b }))
        .with_prometheus(
            Prometheus::builder(&registry)
                .metrics(|m| m.body_sizes(true))
                .build()
                .unwrap(),
        )
        .unwrap();
    // The request size is the declared length (as a real client sends it), in every adapter.
    let r = http::Request::post("/echo")
        .header("content-length", "5")
        .body(Body::from("hello"))
        .unwrap();
    assert_eq!(send(&app, r).await.2, "hello");
    let t = text(&registry);
    let labels = r#"method="POST",route="/echo",status="200""#;
    assert_eq!(
        sample(&t, "http_request_size_bytes_sum", labels),
        Some(5.0),
        "{t}"
    );
    assert_eq!(
        sample(&t, "http_response_size_bytes_sum", labels),
        Some(5.0),
        "{t}"
    );
}

#[tokio::test]
async fn scrape_route_is_not_counted_unless_asked() {
    let registry = Registry::new();
    let app = app(&registry);
    let (status, _, body) = send(&app, req("GET", "/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        std::str::from_utf8(&body)
            .unwrap()
            .contains("# TYPE http_requests_total counter")
    );
    send(&app, req("GET", "/metrics")).await;
    assert!(!text(&registry).contains("route=\"/metrics\""));

    let registry = Registry::new();
    let app = Router::new()
        .route("/", get(|| async { "root" }))
        .with_prometheus(
            Prometheus::builder(&registry)
                .scrape(|s| s.count_scrapes(true))
                .build()
                .unwrap(),
        )
        .unwrap();
    send(&app, req("GET", "/metrics")).await;
    send(&app, req("GET", "/metrics")).await;
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/metrics", "200"), Some(2.0), "{t}");
}

#[tokio::test]
async fn two_registries_in_one_process_are_independent() {
    let (ra, rb) = (Registry::new(), Registry::new());
    let (a, b) = (app(&ra), app(&rb));
    for _ in 0..4 {
        send(&a, req("GET", "/")).await;
    }
    send(&b, req("GET", "/users/1")).await;
    let (ta, tb) = (text(&ra), text(&rb));
    assert_eq!(requests(&ta, "GET", "/", "200"), Some(4.0));
    assert_eq!(requests(&ta, "GET", "/users/{id}", "200"), None);
    assert_eq!(requests(&tb, "GET", "/", "200"), None);
    assert_eq!(requests(&tb, "GET", "/users/{id}", "200"), Some(1.0));
    // Each router's /metrics shows only its own registry.
    let body = send(&b, req("GET", "/metrics")).await.2;
    let body = std::str::from_utf8(&body).unwrap();
    assert!(body.contains(r#"route="/users/{id}""#) && !body.contains(r#"route="/""#));
}

#[test]
fn same_registry_twice_is_an_error_not_a_panic() {
    let registry = Registry::new();
    let _first = Prometheus::new(&registry).unwrap();
    assert!(Prometheus::new(&registry).is_err());
}

#[tokio::test]
async fn route_layer_instruments_routes_but_not_the_fallback() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route_layer(HttpMetricsLayer::builder(&registry).build().unwrap());
    send(&app, req("GET", "/users/1")).await;
    send(&app, req("GET", "/nope")).await;
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/users/{id}", "200"), Some(1.0), "{t}");
    assert_eq!(series_count(&t, "http_requests_total"), 1, "{t}");
}

#[tokio::test]
async fn routers_with_state_work() {
    #[derive(Clone)]
    struct AppState(&'static str);
    let registry = Registry::new();
    let app: Router = Router::new()
        .route(
            "/",
            get(|axum::extract::State(s): axum::extract::State<AppState>| async move { s.0 }),
        )
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap()
        .with_state(AppState("stateful"));
    assert_eq!(send(&app, req("GET", "/")).await.2, "stateful");
    assert_eq!(send(&app, req("GET", "/metrics")).await.0, StatusCode::OK);
    assert_eq!(requests(&text(&registry), "GET", "/", "200"), Some(1.0));
}

#[tokio::test]
async fn duration_to_response_head_still_counts_once() {
    let registry = Registry::new();
    let app = Router::new()
        .route("/stream", get(|| async { slow_stream() }))
        .with_prometheus(
            Prometheus::builder(&registry)
                .metrics(|m| m.duration_end(promenade_tower::DurationEnd::Head))
                .build()
                .unwrap(),
        )
        .unwrap();
    let resp = app.clone().oneshot(req("GET", "/stream")).await.unwrap();
    resp.into_body().collect().await.unwrap();
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/stream", "200"), Some(1.0), "{t}");
    assert_eq!(in_flight(&t, "GET"), Some(0.0));
}
