//! # promenade-actix
//!
//! actix-web middleware for Promenade: counts requests, measures their duration (to the end of
//! the response body, streaming included) and tracks requests in flight, with exactly the
//! metric names, labels, buckets and policies of the tower adapter — both call the shared
//! [`promenade_core::http_metrics::HttpMetrics`]. The middleware also answers `GET`/`HEAD` on
//! the metrics path (default `/metrics`) itself, whatever routes the application registers.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use promenade_actix::PrometheusMetrics;
//! use promenade_core::Registry;
//!
//! # actix_rt::System::new().block_on(async {
//! let registry = Registry::new();
//! // Build once, outside `HttpServer::new`, and clone into every worker's App.
//! let metrics = PrometheusMetrics::builder(&registry).build().unwrap();
//!
//! let app = actix_web::test::init_service(
//!     App::new()
//!         .wrap(metrics.clone())
//!         .route("/users/{id}", web::get().to(|| async { HttpResponse::Ok().body("hi") })),
//! )
//! .await;
//! let req = actix_web::test::TestRequest::get().uri("/users/7").to_request();
//! let body = actix_web::test::call_and_read_body(&app, req).await;
//! assert_eq!(&body[..], b"hi");
//!
//! let req = actix_web::test::TestRequest::get().uri("/metrics").to_request();
//! let text = actix_web::test::call_and_read_body(&app, req).await;
//! let text = std::str::from_utf8(&text).unwrap();
//! assert!(text.contains(r#"http_requests_total{method="GET",route="/users/{id}",status="200"} 1"#));
//! # });
//! ```
//!
//! Behaviour worth knowing:
//! - **Route label**: actix's matched pattern (`HttpRequest::match_pattern`), full path
//!   including `web::scope` prefixes; requests that match no resource get `unmatched`. The
//!   pattern is resolved once when the request enters the middleware (actix resolves it from
//!   the application's resource map, so it is available before routing), which also gives the
//!   in-flight gauge its route.
//! - **Errors** returned by handlers are recorded with the status of the error response.
//! - **Panics**: actix-web does not catch handler panics. A panic unwinding through the
//!   middleware is recorded as `500` and the in-flight gauge is decremented; then the panic
//!   continues (actix drops the connection), or, with
//!   [`PrometheusMetricsBuilder::catch_panics`], it becomes a `500 Internal Server Error`
//!   response.
//! - **Client disconnects**: when actix drops the request future (connection reset, or a
//!   half-close with `HttpServer::h1_allow_half_closed(false)`), the request is recorded as
//!   `499`. With actix's default (half-close allowed), a handler keeps running after the
//!   client's FIN and the request is recorded with the handler's status.
//! - **Streaming**: the response body is wrapped in [`ResponseBody`], which records the request
//!   when the body ends or is dropped.
//! - **Scrapes** run their collectors on actix's blocking pool (`web::block`), never on the
//!   worker thread, so a slow collector delays only the scrape and a panicking one makes it a
//!   500. `HEAD` runs no collector and answers without `Content-Length`. To cap concurrent
//!   scrapes or scrape time (503 beyond them), mount [`metrics_route`] with a configured
//!   [`ScrapeHandler`] (`with_max_concurrent_scrapes`, `with_scrape_timeout`) next to
//!   [`PrometheusMetricsBuilder::without_metrics_route`].
//! - **Slow clients**: keep a header-read timeout on the server, so that clients sending
//!   their request head a byte at a time cannot hold connections (and file descriptors). actix
//!   closes such a connection after `client_request_timeout`, 5 s unless changed;
//!   `Duration::ZERO` turns it off. Set it explicitly:
//!
//! ```no_run
//! use std::time::Duration;
//! use actix_web::{App, HttpServer};
//!
//! # fn main() -> std::io::Result<()> {
//! let registry = promenade_core::Registry::new();
//! let metrics = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
//! let server = HttpServer::new(move || App::new().wrap(metrics.clone()))
//!     .client_request_timeout(Duration::from_secs(5))
//!     .bind("127.0.0.1:8080")?;
//! # drop(server);
//! # Ok(()) }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

// The crates.io page (README.md) compiles and runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod body;
mod builder;
mod future;
mod middleware;
mod scrape;

pub use body::{MetricsBody, ResponseBody};
pub use builder::PrometheusMetricsBuilder;
pub use future::{MetricsFuture, ResponseFuture};
pub use middleware::{PrometheusMetrics, PrometheusMetricsMiddleware};
pub use scrape::{metrics_route, scrape_response};

// One dependency is enough: the core crate, and what a user of this crate names.
#[doc(no_inline)]
pub use promenade_core;
#[doc(no_inline)]
pub use promenade_core::http_metrics::{
    DurationEnd, HttpMetrics, HttpMetricsBuilder, Naming, RequestInfo,
};
#[doc(no_inline)]
pub use promenade_core::scrape::{DEFAULT_PATH, ScrapeAuth, ScrapeHandler, ScrapeHandlerBuilder};
#[doc(no_inline)]
pub use promenade_core::{
    Buckets, Counter, Error, Family, Format, Gauge, Histogram, NativeBuckets, Registry, Result,
    exponential_buckets, linear_buckets,
};
