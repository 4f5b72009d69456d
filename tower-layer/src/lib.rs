//! # promenade-tower
//!
//! Prometheus HTTP server metrics for [axum] and any [tower] / [hyper] stack, built on
//! `promenade-core`: a tower [`Layer`](tower_layer::Layer) that records
//!
//! * `http_requests_total{method,route,status}` (counter),
//! * `http_request_duration_seconds{method,route,status}` (histogram, until the response
//!   body is finished or dropped),
//! * `http_requests_in_flight{method,route}` (gauge, balanced on every path),
//!
//! and a `/metrics` scrape service (GET/HEAD, content negotiation, gzip, optional auth).
//!
//! The route label is the matched route template (axum's `MatchedPath`, or whatever a
//! [`RouteExtractor`] returns), never the raw path; requests that match no route are
//! labelled `unmatched`. Methods outside the known list become `_OTHER`. A request whose
//! future is dropped before a response exists (client went away) is recorded with status
//! `499`; a handler that panics is recorded with status `500`.
//!
//! ## axum
//!
//! ```
//! use axum::{Router, routing::get};
//! use promenade_core::Registry;
//! use promenade_tower::{Prometheus, PrometheusRouterExt};
//!
//! let registry = Registry::new();
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "user" }))
//!     // Last, so every route above is instrumented; adds GET /metrics (not counted itself).
//!     .with_prometheus(Prometheus::new(&registry).unwrap());
//! ```
//!
//! ## Any tower stack
//!
//! ```
//! use std::borrow::Cow;
//! use promenade_core::Registry;
//! use promenade_tower::{HttpMetricsLayer, route_fn};
//!
//! let registry = Registry::new();
//! let layer = HttpMetricsLayer::builder(&registry)
//!     .route_extractor(route_fn(|req| {
//!         req.uri.path().starts_with("/users/").then(|| Cow::Borrowed("/users/{id}"))
//!     }))
//!     .build()
//!     .unwrap();
//! // ServiceBuilder::new().layer(layer).service(my_hyper_service)
//! # let _ = layer;
//! ```
//!
//! ## Scrapes never stall the executor
//!
//! [`MetricsService`] runs collectors on tokio's blocking pool (`spawn_blocking`), so a slow
//! collector delays only the scrape, and a panicking one makes it a 500. The core
//! [`ScrapeHandler`] can cap concurrent scrapes and scrape time
//! ([`MetricsService::with_max_concurrent_scrapes`], [`MetricsService::with_scrape_timeout`]:
//! 503 beyond them). `HEAD` runs no collector and announces no `Content-Length`.
//!
//! ## Set a header-read timeout
//!
//! `axum::serve` has none: a client that sends its request head a byte at a time holds its
//! connection (and a file descriptor) as long as it likes, and a few hundred of them can
//! starve the server, scrapes included. Serve with hyper's `header_read_timeout` instead
//! (`hyper` with `server` and `http1`, `hyper-util` with `tokio` and `service`):
//!
//! ```no_run
//! use std::time::Duration;
//! use hyper_util::rt::{TokioIo, TokioTimer};
//! use hyper_util::service::TowerToHyperService;
//!
//! # async fn run(app: axum::Router) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = TowerToHyperService::new(app.clone());
//!     tokio::spawn(async move {
//!         let mut http1 = hyper::server::conn::http1::Builder::new();
//!         http1.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(5));
//!         let _ = http1.serve_connection(TokioIo::new(stream), service).with_upgrades().await;
//!     });
//! }
//! # }
//! ```
//!
//! [axum]: https://docs.rs/axum
//! [tower]: https://docs.rs/tower
//! [hyper]: https://docs.rs/hyper

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

// The crates.io page (README.md) compiles and runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(feature = "axum")]
mod axum_support;
mod body;
mod future;
mod layer;
mod route;
mod scrape;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use axum_support::{Prometheus, PrometheusBuilder, PrometheusRouterExt};
pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::{HttpMetricsLayer, HttpMetricsLayerBuilder, HttpMetricsService};
pub use route::{DefaultRoute, NoRoute, RouteExtractor, RouteFn, RouteRequest, route_fn};
pub use scrape::{MetricsService, ScrapeBody};

/// Re-exports of the core types used in this crate's builders.
pub use promenade_core::http_metrics::{DurationEnd, HttpMetrics, Naming, RequestInfo};
pub use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
pub use promenade_core::{Buckets, Registry};
