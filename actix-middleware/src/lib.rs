//! # promenade-actix
//!
//! actix-web middleware for Promenade (the core is re-exported: this crate is the only
//! Promenade dependency you need). It counts requests, measures their duration (to the end of
//! the response body, streaming included) and tracks requests in flight, with exactly the
//! metric names, labels, buckets and options of the axum/tower adapter — both call the shared
//! [`HttpMetrics`] —, and answers `GET`/`HEAD` on the scrape path (default `/metrics`) itself.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `http_requests_total` | counter | `method`, `route`, `status` |
//! | `http_request_duration_seconds` | histogram, until the response body ends or is dropped | `method`, `route`, `status` |
//! | `http_requests_in_flight` | gauge, balanced on every path | `method` (and `route` with [`HttpMetricsBuilder::in_flight_by_route`]) |
//!
//! ## Quick start
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use promenade_actix::{PrometheusMetrics, Registry};
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let registry = Registry::new();
//!     // Build once, outside `HttpServer::new`, and clone into every worker's App: one set of
//!     // metrics for the process. Promenade errors convert into io::Error, so `?` works.
//!     let metrics = PrometheusMetrics::builder(&registry).build()?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(metrics.clone())
//!             .route("/users/{id}", web::get().to(|| async { "user" }))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await
//! }
//! ```
//!
//! In a test, with actix's test server:
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use promenade_actix::{PrometheusMetrics, Registry};
//!
//! # actix_rt::System::new().block_on(async {
//! let registry = Registry::new();
//! let metrics = PrometheusMetrics::builder(&registry).build().unwrap();
//! let app = test::init_service(
//!     App::new()
//!         .wrap(metrics.clone())
//!         .route("/users/{id}", web::get().to(|| async { HttpResponse::Ok().body("hi") })),
//! )
//! .await;
//! test::call_and_read_body(&app, test::TestRequest::get().uri("/users/7").to_request()).await;
//! let text = test::call_and_read_body(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
//! let text = std::str::from_utf8(&text).unwrap();
//! assert!(text.contains(r#"http_requests_total{method="GET",route="/users/{id}",status="200"} 1"#));
//! # });
//! ```
//!
//! ## Options: two hooks, the same in every adapter
//!
//! [`PrometheusMetricsBuilder::metrics`] hands you the core's [`HttpMetricsBuilder`]
//! (buckets, naming preset, status classes, body sizes, constant and derived labels, labels
//! from the application, exclusions and allow-list, per-route policies, native histograms,
//! series cap); [`PrometheusMetricsBuilder::scrape`] the core's
//! [`ScrapeHandlerBuilder`] (path, auth, gzip, whether scrapes are counted, the process
//! collector, concurrency limit, timeout). The axum adapter's builder has the same two hooks.
//! actix's own: [`catch_panics`](PrometheusMetricsBuilder::catch_panics) and
//! [`without_metrics_route`](PrometheusMetricsBuilder::without_metrics_route).
//!
//! ```
//! use std::time::Duration;
//! use promenade_actix::{Naming, PrometheusMetrics, Registry, ScrapeAuth};
//!
//! # fn main() -> Result<(), promenade_actix::Error> {
//! let registry = Registry::new();
//! let metrics = PrometheusMetrics::builder(&registry)
//!     .metrics(|m| m.naming(Naming::Both).status_classes(true).exclude_path("/health"))
//!     .scrape(|s| {
//!         s.path("/internal/metrics")
//!             .auth(ScrapeAuth::Bearer("s3cret".into()))
//!             .max_concurrent_scrapes(2)
//!             .timeout(Duration::from_secs(8))
//!     })
//!     .catch_panics(true)
//!     .build()?;
//! # drop(metrics); Ok(()) }
//! ```
//!
//! ## Labels from the application
//!
//! A label may come from the request's extensions (a tenant an auth middleware inserted),
//! the response's extensions or a response header (an outcome the handler set), each with a
//! bounded set of values ([`LabelValues`]): a declared list (anything else becomes one fixed
//! value) or the series cap. The declaration is the core's, as in promenade-tower; it reads
//! actix-web's own extensions (the core's `actix` feature, which this crate turns on).
//! Request extensions are read when the request reaches the metrics middleware, so the
//! middleware that inserts them goes outside it (registered after it with `App::wrap`);
//! response labels are read at the response head, and label the request counter and
//! histograms but not in-flight.
//!
//! ```
//! use actix_web::dev::Service as _;
//! use actix_web::{App, HttpMessage as _, HttpResponse, test, web};
//! use promenade_actix::{LabelValues, PrometheusMetrics, Registry};
//!
//! #[derive(Clone)]
//! struct Tenant { tier: String }
//! #[derive(Clone)]
//! struct Outcome(&'static str);
//!
//! # actix_rt::System::new().block_on(async {
//! let registry = Registry::new();
//! let metrics = PrometheusMetrics::builder(&registry)
//!     .metrics(|m| {
//!         m.request_extension_label("tier", LabelValues::one_of(&["free", "pro"], "other"), |t: &Tenant| t.tier.as_str())
//!             .response_extension_label("outcome", LabelValues::one_of(&["paid", "declined"], "other").when_absent("none"), |o: &Outcome| o.0)
//!     })
//!     .build()
//!     .unwrap();
//! let app = test::init_service(
//!     App::new()
//!         .wrap(metrics)
//!         .wrap_fn(|req, srv| {
//!             // An auth middleware, outside the metrics middleware.
//!             req.extensions_mut().insert(Tenant { tier: "pro".into() });
//!             srv.call(req)
//!         })
//!         .route("/pay", web::get().to(|| async {
//!             let mut resp = HttpResponse::Ok().body("no");
//!             resp.extensions_mut().insert(Outcome("declined"));
//!             resp
//!         })),
//! )
//! .await;
//! test::call_and_read_body(&app, test::TestRequest::get().uri("/pay").to_request()).await;
//! let text = registry.encode_to_string(promenade_actix::Format::Text).unwrap();
//! assert!(text.contains(r#"http_requests_total{method="GET",route="/pay",status="200",tier="pro",outcome="declined"} 1"#));
//! # });
//! ```
//!
//! ## Leaving requests out, and long-lived routes
//!
//! Exclusions are declared on the core builder, like every option, and mean the same in the
//! axum adapter: an excluded request is not counted, not timed, and never in flight. The
//! middleware runs before actix routes the request, so for route rules
//! ([`exclude_route`](HttpMetricsBuilder::exclude_route),
//! [`allow_route`](HttpMetricsBuilder::allow_route)) it matches the path against the app's
//! routes first (`HttpRequest::match_pattern`, about 0.6 µs on a small app) — only when such
//! rules are configured, and then for every request. Deciding after routing instead would
//! leave every excluded request, a long-lived one especially, in the in-flight gauge while
//! it runs. Path rules ([`exclude_path`](HttpMetricsBuilder::exclude_path),
//! [`exclude_path_prefix`](HttpMetricsBuilder::exclude_path_prefix)) cost a string
//! comparison and make an excluded request nearly free: prefer them when a path says enough
//! (BENCHMARKS.md has the figures). A status exclusion is decided at the response head (the
//! request was in flight until then, nothing else of it remains).
//!
//! Long-lived routes (server-sent events, WebSocket upgrades, long polling) get a
//! [`RoutePolicy`]: where their duration ends and their own buckets.
//!
//! ```
//! use promenade_actix::{Buckets, DurationEnd, PrometheusMetrics, Registry, RoutePolicy};
//!
//! # fn main() -> Result<(), promenade_actix::Error> {
//! let registry = Registry::new();
//! let poll_buckets = Buckets::new(vec![1.0, 10.0, 30.0])?;
//! let metrics = PrometheusMetrics::builder(&registry)
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
//! assert!(metrics.http_metrics().excludes_by_route());
//! # Ok(()) }
//! ```
//!
//! `.allow_route("/orders")` (once per route) switches to an allow-list: only those route
//! templates are recorded.
//!
//! ## Your own metrics beside the HTTP metrics
//!
//! Register them in the same [`Registry`] (share it with handlers through `web::Data` or a
//! clone); the scrape route exposes all of it.
//!
//! ```
//! use promenade_actix::{Format, PrometheusMetrics, Registry};
//!
//! # fn main() -> Result<(), promenade_actix::Error> {
//! let registry = Registry::new();
//! let metrics = PrometheusMetrics::builder(&registry).build()?;
//! let orders = registry.counter_family("shop_orders_total", "Orders placed.", &["channel"])?;
//! orders.get(&["web"])?.inc();
//! assert!(registry.encode_to_string(Format::Text)?.contains("shop_orders_total{channel=\"web\"} 1"));
//! # drop(metrics); Ok(()) }
//! ```
//!
//! ## Metrics on a separate port
//!
//! Keep the middleware off the scrape path and serve [`metrics_route`] from a second
//! `HttpServer` (an admin port):
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use promenade_actix::{PrometheusMetrics, Registry, ScrapeHandler, metrics_route};
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let registry = Registry::new();
//!     let metrics = PrometheusMetrics::builder(&registry).without_metrics_route().build()?;
//!     let scrape = ScrapeHandler::builder(&registry).build()?;
//!     let app = HttpServer::new(move || {
//!         App::new().wrap(metrics.clone()).route("/", web::get().to(|| async { "hi" }))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run();
//!     let admin = HttpServer::new(move || App::new().configure(metrics_route(scrape.clone())))
//!         .workers(1)
//!         .bind("127.0.0.1:9464")?
//!         .run();
//!     futures_join(app, admin).await
//! }
//! # async fn futures_join(a: actix_web::dev::Server, b: actix_web::dev::Server) -> std::io::Result<()> {
//! #     let (a, b) = (actix_web::rt::spawn(a), actix_web::rt::spawn(b));
//! #     a.await.map_err(std::io::Error::other)??;
//! #     b.await.map_err(std::io::Error::other)?
//! # }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `process` | yes | the `process_*` collector, registered by [`ScrapeHandlerBuilder::build`] unless `.process_collector(false)` |
//! | `protobuf` | yes | the protobuf exposition format, needed for native histograms |
//! | `opentelemetry` | no | exemplar trace ids also from the current OpenTelemetry span context |
//!
//! ## Behaviour worth knowing
//!
//! - **Route label**: actix's matched pattern (`HttpRequest::match_pattern`), full path
//!   including `web::scope` prefixes; requests that match no resource get `unmatched`. It is
//!   read from the routed request when the response comes back (cheap: actix remembers which
//!   resource matched), so the path is matched once, by actix's router. A request that ends
//!   without a response (client gone, error, panic) has its path matched against the app's
//!   resource map instead, once, at that moment.
//! - **In-flight** is labelled by `method` only, as OpenTelemetry's
//!   `http.server.active_requests`: the route is unknown when a request starts.
//!   `.metrics(|m| m.in_flight_by_route(true))` adds the route, at the cost of a second path
//!   match before routing (`HttpRequest::match_pattern`, about 0.6 µs per request on a small
//!   app, more with many routes; the same match route exclusions need).
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
//! - **WebSocket upgrades** (`actix-ws`, `actix-web-actors`) are counted once, as `101`,
//!   when the socket closes: in actix the `101` response's body is the socket's outgoing
//!   stream, so the request is in flight while the socket is open and its default duration
//!   is the socket's life. Give such routes a [`RoutePolicy`] (`Head`: time to the `101`;
//!   `NotRecorded`: counted, no duration) — the axum adapter then records the same.
//! - **Body sizes** (`.metrics(|m| m.body_sizes(true))`): the request size is its declared
//!   `Content-Length` (0 without one), the response size the bytes the body produced — the
//!   same meaning as in the axum adapter.
//! - **Scrapes** run their collectors on actix's blocking pool (`web::block`), never on the
//!   worker thread, so a slow collector delays only the scrape and a panicking one makes it a
//!   500. `HEAD` runs no collector and answers without `Content-Length`.
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
//! let registry = promenade_actix::Registry::new();
//! let metrics = promenade_actix::PrometheusMetrics::builder(&registry).build()?;
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
mod parts;
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
    DurationEnd, HttpMetrics, HttpMetricsBuilder, LabelValues, Naming, RequestInfo, RoutePolicy,
};
#[doc(no_inline)]
pub use promenade_core::scrape::{DEFAULT_PATH, ScrapeAuth, ScrapeHandler, ScrapeHandlerBuilder};
#[doc(no_inline)]
pub use promenade_core::{
    Buckets, Counter, Error, Family, Format, Gauge, Histogram, NativeBuckets, Registry, Result,
    exponential_buckets, linear_buckets,
};
