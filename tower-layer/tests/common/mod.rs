//! Helpers shared by the integration tests.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use promenade_core::{Format, Registry};
use tower::ServiceExt;

/// Sends `req` through a clone of `app` and reads the whole body.
pub(crate) async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Bytes) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

/// A request with an empty body.
pub(crate) fn req(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

/// The registry in text format 0.0.4.
pub(crate) fn text(registry: &Registry) -> String {
    registry.encode_to_string(Format::Text).unwrap()
}

/// The value of the sample `name{labels}` in `text`, if present.
pub(crate) use promenade_core::testutil::sample_value as sample;

/// Number of sample lines of metric `name` (exact name, any labels).
pub(crate) use promenade_core::testutil::series_count;

/// `http_requests_total` for one method/route/status.
pub(crate) fn requests(text: &str, method: &str, route: &str, status: &str) -> Option<f64> {
    sample(
        text,
        "http_requests_total",
        &format!(r#"method="{method}",route="{route}",status="{status}""#),
    )
}

/// `http_requests_in_flight` for one method (in-flight is labelled by method only).
pub(crate) fn in_flight(text: &str, method: &str) -> Option<f64> {
    sample(
        text,
        "http_requests_in_flight",
        &format!(r#"method="{method}""#),
    )
}

/// Sum of all in-flight gauges.
pub(crate) fn total_in_flight(text: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with("http_requests_in_flight{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum()
}
