//! Long-lived routes (server-sent events, WebSocket upgrades) with per-route policies from
//! the core builder, against real axum (promenade-tower) and actix-web (promenade-actix)
//! servers on 127.0.0.1:0 and real clients (a WebSocket client, an HTTP client reading an
//! event stream): exact counts, the duration policy of each route, in-flight back to 0 once
//! the stream or socket is closed, and an exposition whose duration series have per-route
//! bucket layouts that Prometheus's own tools accept.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt as _, StreamExt as _};
use promenade_core::http_metrics::{DurationEnd, HttpMetricsBuilder, RoutePolicy};
use promenade_core::{Buckets, Registry};
use promenade_tests::{PROMTOOL, PYTHON_PROMETHEUS_CLIENT, require_tool};
use promenade_tests::{http_get, promtool_check_metrics, python_openmetrics_parse};
use tokio_stream::wrappers::IntervalStream;

const SETTLE: Duration = Duration::from_secs(5);
/// Events each event stream sends, one per [`EVENT_INTERVAL`] (the first at once): the
/// stream stays open at least `(EVENTS - 1) * EVENT_INTERVAL`, longer than the bucket its
/// head-timed duration must land in.
const EVENTS: usize = 3;
const EVENT_INTERVAL: Duration = Duration::from_millis(600);
/// The one finite bucket of the event routes: below the stream's open time (1.2 s).
const EVENT_BUCKET: f64 = 1.0;

/// `/events` ends its duration at the head (its own buckets), `/events-body` keeps the
/// default end of body (same buckets, to show the difference), `/ws` records no duration.
fn policies(m: HttpMetricsBuilder) -> HttpMetricsBuilder {
    let events = || Buckets::new(vec![EVENT_BUCKET]).expect("valid buckets");
    m.route_policy(
        "/events",
        RoutePolicy::new()
            .duration_end(DurationEnd::Head)
            .buckets(events()),
    )
    .route_policy("/events-body", RoutePolicy::new().buckets(events()))
    .route_policy(
        "/ws",
        RoutePolicy::new().duration_end(DurationEnd::NotRecorded),
    )
}

fn ticks() -> IntervalStream {
    IntervalStream::new(tokio::time::interval(EVENT_INTERVAL))
}

fn axum_server() -> AxumDemoServer {
    use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    use axum::response::sse::{Event, Sse};
    use axum::routing::get;
    let registry = Registry::new();
    let events = || async {
        let stream = ticks()
            .take(EVENTS)
            .map(|_| Ok::<_, Infallible>(Event::default().data("tick")));
        Sse::new(stream)
    };
    let app = axum::Router::new()
        .route("/", get(|| async { "root" }))
        .route("/events", get(events))
        .route("/events-body", get(events))
        .route(
            "/ws",
            get(|upgrade: WebSocketUpgrade| async move {
                upgrade.on_upgrade(|mut socket: WebSocket| async move {
                    // Echo text until the client closes.
                    while let Some(Ok(message)) = socket.recv().await {
                        let echo = match message {
                            Message::Text(text) => Message::Text(text),
                            Message::Close(_) => return,
                            _ => continue,
                        };
                        if socket.send(echo).await.is_err() {
                            return;
                        }
                    }
                })
            }),
        );
    let prometheus = promenade_tower::Prometheus::builder(&registry)
        .metrics(policies)
        .build()
        .expect("valid options");
    let app = promenade_tower::PrometheusRouterExt::with_prometheus(app, prometheus)
        .expect("router with routes");
    AxumDemoServer::serve(app, registry)
}

async fn actix_events() -> actix_web::HttpResponse {
    let stream = ticks()
        .take(EVENTS)
        .map(|_| Ok::<_, Infallible>(bytes_of("data: tick\n\n")));
    actix_web::HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(stream)
}

fn bytes_of(s: &'static str) -> actix_web::web::Bytes {
    actix_web::web::Bytes::from_static(s.as_bytes())
}

async fn actix_ws(
    req: actix_web::HttpRequest,
    body: actix_web::web::Payload,
) -> actix_web::Result<actix_web::HttpResponse> {
    let (response, mut session, mut messages) = actix_ws::handle(&req, body)?;
    actix_web::rt::spawn(async move {
        // Echo text until the client closes.
        while let Some(Ok(message)) = messages.recv().await {
            let text = match message {
                actix_ws::Message::Text(text) => text,
                actix_ws::Message::Close(reason) => {
                    let _ = session.close(reason).await;
                    return;
                }
                _ => continue,
            };
            if session.text(text).await.is_err() {
                return;
            }
        }
        let _ = session.close(None).await;
    });
    Ok(response)
}

fn actix_server() -> ActixDemoServer {
    use actix_web::web;
    let registry = Registry::new();
    let metrics = promenade_actix::PrometheusMetrics::builder(&registry)
        .metrics(policies)
        .build()
        .expect("valid options");
    ActixDemoServer::serve(metrics, |cfg| {
        cfg.route("/", web::get().to(|| async { "root" }))
            .route("/events", web::get().to(actix_events))
            .route("/events-body", web::get().to(actix_events))
            .route("/ws", web::get().to(actix_ws));
    })
}

/// Opens a WebSocket to `/ws`, has one message echoed, closes, and waits for the server's
/// close (all bounded by a 10 s timeout).
fn websocket_round_trip(port: u16) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let url = format!("ws://127.0.0.1:{port}/ws");
            let (mut socket, response) = tokio_tungstenite::connect_async(url)
                .await
                .expect("websocket handshake");
            assert_eq!(response.status(), 101);
            socket
                .send(tokio_tungstenite::tungstenite::Message::text("hello"))
                .await
                .expect("send");
            let echo = socket.next().await.expect("echo").expect("echo frame");
            assert_eq!(echo.into_text().expect("text").as_str(), "hello");
            socket.close(None).await.expect("close");
            // Until the server's close frame and the end of the connection (bounded by the
            // timeout above and the stream's end).
            while let Some(Ok(_)) = socket.next().await {}
        })
        .await
        .expect("websocket round trip within 10 s");
    });
}

/// One WebSocket: counted once as 101, no duration sample (`NotRecorded`), in-flight back
/// to 0 once closed.
fn websocket_is_counted_once_as_101<D: Demo>(demo: D) {
    websocket_round_trip(demo.port());
    let text = demo.scrape_until(SETTLE, |t| {
        requests(t, "GET", "/ws", "101") == Some(1.0) && total_in_flight(t) == 0.0
    });
    assert_eq!(
        requests(&text, "GET", "/ws", "101"),
        Some(1.0),
        "{}\n{text}",
        D::ADAPTER
    );
    assert_eq!(total_in_flight(&text), 0.0, "{}\n{text}", D::ADAPTER);
    assert!(
        !text.contains("http_request_duration_seconds_count{method=\"GET\",route=\"/ws\""),
        "{}: a WebSocket got a duration sample\n{text}",
        D::ADAPTER
    );
    // Exactly one request series (the scrape itself is not counted by default).
    assert_eq!(
        all_samples(&text, "http_requests_total").len(),
        1,
        "{}\n{text}",
        D::ADAPTER
    );
}

#[test]
fn axum_websocket_is_counted_once_as_101() {
    websocket_is_counted_once_as_101(axum_server());
}

#[test]
fn actix_websocket_is_counted_once_as_101() {
    websocket_is_counted_once_as_101(actix_server());
}

/// Reads one whole event stream from `path` (it ends after [`EVENTS`] events).
fn read_event_stream<D: Demo>(demo: &D, path: &str) {
    let resp = http_get(&demo.url(path), &[]).expect("event stream");
    assert_eq!(resp.status, 200);
    assert!(
        resp.header("content-type")
            .is_some_and(|v| v.starts_with("text/event-stream")),
        "{:?}",
        resp.header("content-type")
    );
    assert_eq!(resp.text().matches("data: tick").count(), EVENTS);
}

/// Two event streams open for the same time: the head-timed one lands in the small bucket,
/// the body-timed one does not; both counted once, in-flight back to 0.
fn event_stream_duration_follows_the_route_policy<D: Demo>(demo: D) {
    read_event_stream(&demo, "/events");
    read_event_stream(&demo, "/events-body");
    let text = demo.scrape_until(SETTLE, |t| {
        requests(t, "GET", "/events", "200") == Some(1.0)
            && requests(t, "GET", "/events-body", "200") == Some(1.0)
            && total_in_flight(t) == 0.0
    });
    let bucket = |route: &str, le: &str| {
        sample(
            &text,
            "http_request_duration_seconds_bucket",
            &format!(r#"method="GET",route="{route}",status="200",le="{le}""#),
        )
    };
    let le = EVENT_BUCKET.to_string();
    assert_eq!(bucket("/events", &le), Some(1.0), "{}\n{text}", D::ADAPTER);
    assert_eq!(
        bucket("/events-body", &le),
        Some(0.0),
        "{}\n{text}",
        D::ADAPTER
    );
    assert_eq!(bucket("/events", "+Inf"), Some(1.0), "{text}");
    assert_eq!(bucket("/events-body", "+Inf"), Some(1.0), "{text}");
    // Their own layout: none of the default bounds.
    assert_eq!(bucket("/events", "0.005"), None, "{text}");
    assert_eq!(total_in_flight(&text), 0.0, "{}\n{text}", D::ADAPTER);
}

#[test]
fn axum_event_stream_duration_follows_the_route_policy() {
    event_stream_duration_follows_the_route_policy(axum_server());
}

#[test]
fn actix_event_stream_duration_follows_the_route_policy() {
    event_stream_duration_follows_the_route_policy(actix_server());
}

/// Duration series with different bucket layouts in one family (a route policy's buckets
/// next to the default ones) form an exposition that promtool and the strict OpenMetrics
/// parser accept, in both adapters.
fn per_route_buckets_are_valid_exposition<D: Demo>(demo: D) {
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    read_event_stream(&demo, "/events");
    assert_eq!(http_get(&demo.url("/"), &[]).unwrap().status, 200);
    let text = demo.scrape_until(SETTLE, |t| {
        all_samples(t, "http_requests_total").len() == 2 && total_in_flight(t) == 0.0
    });
    assert!(
        text.contains(r#"route="/",status="200",le="0.005""#)
            && text.contains(r#"route="/events",status="200",le="1""#),
        "{text}"
    );
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
    let om = http_get(
        &demo.url("/metrics"),
        &[("accept", "application/openmetrics-text; version=1.0.0")],
    )
    .unwrap()
    .text();
    python_openmetrics_parse(&om).unwrap_or_else(|e| panic!("OpenMetrics parser: {e}\n{om}"));
}

#[test]
fn axum_per_route_buckets_are_valid_exposition() {
    per_route_buckets_are_valid_exposition(axum_server());
}

#[test]
fn actix_per_route_buckets_are_valid_exposition() {
    per_route_buckets_are_valid_exposition(actix_server());
}
