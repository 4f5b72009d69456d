//! # promenade-tower
//!
//! Prometheus HTTP server metrics for [axum] and any [tower] / [hyper] stack, built on
//! `promenade-core` (re-exported: this crate is the only dependency you need). It records
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `route`, `status` |
//! | `http_request_duration_seconds` | histogram, until the response body ends or is dropped | `method`, `route`, `status` |
//! | `http_requests_in_flight` | gauge, balanced on every path | `method` (and `route` with [`HttpMetricsBuilder::in_flight_by_route`]) |
//!
//! and serves them (with everything else in the [`Registry`]) on a `/metrics` route: GET and
//! HEAD, content negotiation between text 0.0.4, OpenMetrics and protobuf, gzip, optional
//! bearer/basic auth, optional limits.
//!
//! ## Quick start (axum)
//!
//! ```
//! use axum::{Router, routing::get};
//! use promenade_tower::{Prometheus, PrometheusRouterExt, Registry};
//!
//! # fn main() -> Result<(), promenade_tower::Error> {
//! let registry = Registry::new();
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "user" }))
//!     // Last: instruments every route above and adds GET /metrics (not counted itself).
//!     .with_prometheus(Prometheus::new(&registry)?)?;
//! // axum::serve(listener, app).await
//! # Ok(()) }
//! ```
//!
//! ## Options: two hooks, the same in every adapter
//!
//! [`PrometheusBuilder::metrics`] hands you the core's [`HttpMetricsBuilder`] (buckets,
//! naming preset, status classes, body sizes, constant and derived labels, labels from the
//! application, exclusions and allow-list, per-route policies, native histograms, series
//! cap); [`PrometheusBuilder::scrape`] hands you the core's
//! [`ScrapeHandlerBuilder`] (path, auth, gzip, whether scrapes are counted, the process
//! collector, concurrency limit, timeout). The actix-web adapter's builder has the same two
//! hooks, and the tonic adapter takes the same [`ScrapeHandlerBuilder`], so an option has
//! one name everywhere.
//!
//! ```
//! use std::time::Duration;
//! use promenade_tower::{Buckets, Naming, Prometheus, ScrapeAuth};
//!
//! # fn main() -> Result<(), promenade_tower::Error> {
//! let registry = promenade_tower::Registry::new();
//! let buckets = Buckets::new(vec![0.01, 0.1, 1.0])?;
//! let prometheus = Prometheus::builder(&registry)
//!     .metrics(|m| {
//!         m.buckets(buckets)
//!             .naming(Naming::Both)
//!             .status_classes(true)
//!             .exclude_path("/healthz")
//!             .const_label("service", "users")
//!     })
//!     .scrape(|s| {
//!         s.path("/internal/metrics")
//!             .auth(ScrapeAuth::Bearer("s3cret".into()))
//!             .max_concurrent_scrapes(2)
//!             .timeout(Duration::from_secs(8))
//!     })
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! ## Labels from the application
//!
//! A label may come from the request's extensions (a tenant an auth layer inserted), the
//! response's extensions or a response header (an outcome the handler set), each with a
//! bounded set of values ([`LabelValues`]): a declared list (anything else becomes one fixed
//! value) or the series cap. Request extensions are read when the request reaches the
//! metrics layer, so the layer that inserts them goes outside it (in axum: `.layer(..)`
//! after `with_prometheus`); response labels are read at the response head, and label the
//! request counter and histograms but not in-flight. The same declaration works in
//! promenade-actix.
//!
//! ```
//! use axum::{Extension, Router, extract::Request, middleware::{self, Next}, response::Response, routing::get};
//! use promenade_tower::{LabelValues, Prometheus, PrometheusRouterExt, Registry};
//! use tower::ServiceExt;
//!
//! #[derive(Clone)]
//! struct Tenant { tier: String }
//! #[derive(Clone)]
//! struct Outcome(&'static str);
//!
//! async fn auth(mut req: Request, next: Next) -> Response {
//!     let tier = req.headers().get("x-tier").and_then(|v| v.to_str().ok()).unwrap_or("free");
//!     let tenant = Tenant { tier: tier.to_owned() };
//!     req.extensions_mut().insert(tenant);
//!     next.run(req).await
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let registry = Registry::new();
//! let prometheus = Prometheus::builder(&registry)
//!     .metrics(|m| {
//!         m.request_extension_label("tier", LabelValues::one_of(&["free", "pro"], "other"), |t: &Tenant| t.tier.as_str())
//!             .response_extension_label("outcome", LabelValues::one_of(&["paid", "declined"], "other").when_absent("none"), |o: &Outcome| o.0)
//!     })
//!     .build()
//!     .unwrap();
//! let app = Router::new()
//!     .route("/pay", get(|| async { (Extension(Outcome("declined")), "no") }))
//!     .with_prometheus(prometheus)
//!     .unwrap()
//!     .layer(middleware::from_fn(auth)); // outside the metrics layer
//! let req = http::Request::get("/pay").header("x-tier", "pro").body(axum::body::Body::empty()).unwrap();
//! let resp = app.oneshot(req).await.unwrap();
//! drop(resp); // the body ends: the request is recorded
//! let text = registry.encode_to_string(promenade_tower::Format::Text).unwrap();
//! assert!(text.contains(r#"http_requests_total{method="GET",route="/pay",status="200",tier="pro",outcome="declined"} 1"#));
//! # });
//! ```
//!
//! ## Leaving requests out, and long-lived routes
//!
//! Exclusions are declared on the core builder, like every option, and mean the same in the
//! actix adapter. An excluded request gets no tracker: it is not counted, not timed, and
//! never in flight (the layer runs after axum's routing, so it knows the matched route
//! before the request starts). Only a status exclusion is decided at the response head: such
//! a request was in flight until then, and nothing else of it remains.
//!
//! Long-lived routes (server-sent events, WebSocket upgrades, long polling) get a
//! [`RoutePolicy`]: where their duration ends and their own buckets, so that they do not
//! fill the slowest buckets of every other route's latency.
//!
//! ```
//! use axum::{Router, routing::get};
//! use promenade_tower::{Buckets, DurationEnd, Prometheus, PrometheusRouterExt, Registry, RoutePolicy};
//!
//! # fn main() -> Result<(), promenade_tower::Error> {
//! let registry = Registry::new();
//! let poll_buckets = Buckets::new(vec![1.0, 10.0, 30.0])?;
//! let prometheus = Prometheus::builder(&registry)
//!     .metrics(|m| {
//!         m.exclude_path("/healthz") // exact path
//!             .exclude_path_prefix("/static/") // raw path prefix
//!             .exclude_route("/health/{probe}") // matched route template
//!             .exclude_unmatched_status(404) // scanners; a route's own 404s stay
//!             .route_policy("/events", RoutePolicy::new().duration_end(DurationEnd::Head))
//!             .route_policy("/ws", RoutePolicy::new().duration_end(DurationEnd::NotRecorded))
//!             .route_policy("/poll", RoutePolicy::new().buckets(poll_buckets))
//!     })
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/health/{probe}", get(|| async { "ok" }))
//!     .route("/orders", get(|| async { "orders" }))
//!     .with_prometheus(prometheus)?;
//! # drop(app); Ok(()) }
//! ```
//!
//! `.allow_route("/orders")` (once per route) switches to an allow-list: only those route
//! templates are recorded.
//!
//! ## Your own metrics beside the HTTP metrics
//!
//! Register them in the same [`Registry`]; the scrape route exposes all of it.
//!
//! ```
//! use promenade_tower::{Format, Prometheus, Registry};
//!
//! # fn main() -> Result<(), promenade_tower::Error> {
//! let registry = Registry::new();
//! let prometheus = Prometheus::new(&registry)?;
//! let orders = registry.counter_family("shop_orders_total", "Orders placed.", &["channel"])?;
//! orders.get(&["web"])?.inc();
//! assert!(registry.encode_to_string(Format::Text)?.contains("shop_orders_total{channel=\"web\"} 1"));
//! # drop(prometheus); Ok(()) }
//! ```
//!
//! ## Metrics on a separate port
//!
//! Instrument the application router with the layer alone, and serve the scrape service on
//! an admin router of its own:
//!
//! ```
//! use axum::{Router, routing::get};
//! use promenade_tower::{Prometheus, Registry};
//!
//! # fn main() -> Result<(), promenade_tower::Error> {
//! let registry = Registry::new();
//! let prometheus = Prometheus::new(&registry)?;
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "hi" }))
//!     .layer(prometheus.layer().clone());
//! let admin: Router = Router::new().route_service(prometheus.path(), prometheus.scrape_service().clone());
//! // Serve `app` on :3000 and `admin` on :9464.
//! # Ok(()) }
//! ```
//!
//! ## Any tower stack
//!
//! ```
//! use std::borrow::Cow;
//! use promenade_tower::{HttpMetricsLayer, MetricsService, Registry, ScrapeHandler, route_fn};
//!
//! # fn main() -> Result<(), promenade_tower::Error> {
//! let registry = Registry::new();
//! let layer = HttpMetricsLayer::builder(&registry)
//!     .metrics(|m| m.status_classes(true))
//!     .route_extractor(route_fn(|req| {
//!         req.uri.path().starts_with("/users/").then(|| Cow::Borrowed("/users/{id}"))
//!     }))
//!     .build()?;
//! let scrape = MetricsService::new(ScrapeHandler::builder(&registry).build()?);
//! // ServiceBuilder::new().layer(layer).service(my_hyper_service); route /metrics to `scrape`.
//! # drop((layer, scrape)); Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `axum` | yes | route labels from axum's `MatchedPath`; [`Prometheus`] and `Router::with_prometheus` |
//! | `process` | yes | the `process_*` collector, registered by [`ScrapeHandlerBuilder::build`] unless `.process_collector(false)` |
//! | `protobuf` | yes | the protobuf exposition format, needed for native histograms |
//! | `opentelemetry` | no | exemplar trace ids also from the current OpenTelemetry span context |
//!
//! ## Behaviour worth knowing
//!
//! - **Route label**: the matched route template (axum's `MatchedPath`, or what a
//!   [`RouteExtractor`] returns), never the raw path; requests that match no route are
//!   `unmatched`. Methods outside the known list are `_OTHER`.
//! - **In-flight** is labelled by `method` only, as OpenTelemetry's
//!   `http.server.active_requests`; `.metrics(|m| m.in_flight_by_route(true))` adds the
//!   route, at no extra cost here (the layer runs after axum's routing).
//! - **Order**: axum layers wrap only the routes that exist, so call `with_prometheus` last;
//!   on a router without routes it returns an error instead of instrumenting nothing.
//! - **Cancellation and panics**: a request whose future is dropped before a response
//!   (client went away) is recorded as `499`; a handler that panics, as `500`. In-flight
//!   always returns to 0.
//! - **Body sizes** (`.metrics(|m| m.body_sizes(true))`): the request size is its declared
//!   `Content-Length` (0 without one), the response size the bytes the body produced — the
//!   same meaning as in the actix adapter.
//! - **WebSocket upgrades** are counted once, as `101`, when the upgrade response has been
//!   sent: the socket then lives outside the HTTP service, so it is not in flight while open
//!   and its default duration is the time to the `101` (the actix adapter counts a socket
//!   until it closes; a [`RoutePolicy`] with `Head` or `NotRecorded` makes both the same).
//! - **Server-sent events** and other streamed bodies: in flight and timed until the stream
//!   ends or the client goes away, unless the route's policy ends the duration at the head.
//! - **Scrapes never stall the executor**: [`MetricsService`] runs collectors on tokio's
//!   blocking pool (`spawn_blocking`), so a slow collector delays only the scrape, and a
//!   panicking one makes it a 500. `HEAD` runs no collector and announces no
//!   `Content-Length`.
//! - **A second `Prometheus` on the same registry** is refused (the names are taken); share
//!   one, or give each its own registry.
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

// One dependency is enough: the core crate, and what a user of this crate names.
#[doc(no_inline)]
pub use promenade_core;
#[doc(no_inline)]
pub use promenade_core::http_metrics::{
    DurationEnd, HttpMetrics, HttpMetricsBuilder, LabelValues, Naming, RequestInfo, RoutePolicy,
};
#[doc(no_inline)]
pub use promenade_core::scrape::{DEFAULT_PATH, ScrapeAuth, ScrapeHandler, ScrapeHandlerBuilder};
#[doc(no_inline)]
pub use promenade_core::{
    Buckets, Counter, Error, Family, Format, Gauge, Histogram, NativeBuckets, Registry, Result,
    exponential_buckets, linear_buckets,
};
