//! # promenade-tonic
//!
//! Prometheus instrumentation for [tonic](https://docs.rs/tonic) gRPC servers and clients,
//! with exactly the metric names, labels and code strings of the Go ecosystem's gRPC
//! Prometheus middleware (`go-grpc-middleware/providers/prometheus`, formerly
//! `go-grpc-prometheus`), so existing dashboards and alerts work unchanged. The core is
//! re-exported: this crate is the only Promenade dependency you need.
//!
//! | server | client | labels |
//! |---|---|---|
//! | `grpc_server_started_total` | `grpc_client_started_total` | `grpc_type`, `grpc_service`, `grpc_method` |
//! | `grpc_server_handled_total` | `grpc_client_handled_total` | … + `grpc_code` (`OK`, `Canceled`, `NotFound`, …) |
//! | `grpc_server_msg_received_total` | `grpc_client_msg_received_total` | base labels |
//! | `grpc_server_msg_sent_total` | `grpc_client_msg_sent_total` | base labels |
//! | `grpc_server_handling_seconds` | `grpc_client_handling_seconds` | base labels (histogram, default buckets, on by default) |
//!
//! ## Quick start
//!
//! A server (here tonic-health's service), `/metrics` on the gRPC port, and a client:
//!
//! ```no_run
//! use promenade_tonic::{
//!     GrpcClientService, GrpcMetrics, GrpcServerLayer, HEALTH_METHODS, HEALTH_SERVICE, Registry,
//!     ScrapeHandler, Side, with_metrics_route,
//! };
//! use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let registry = Registry::new();
//!     let metrics = GrpcMetrics::builder(&registry, Side::Server)
//!         .service(HEALTH_SERVICE, HEALTH_METHODS) // exact grpc_type labels
//!         .build()?;
//!     let (_reporter, health) = tonic_health::server::health_reporter();
//!     let routes = tonic::service::Routes::new(health);
//!     tokio::spawn(
//!         tonic::transport::Server::builder()
//!             .accept_http1(true) // Prometheus scrapes over HTTP/1.1 on the gRPC port
//!             .layer(GrpcServerLayer::new(metrics))
//!             .add_routes(with_metrics_route(routes, ScrapeHandler::builder(&registry).build()?))
//!             .serve("127.0.0.1:50051".parse()?),
//!     );
//!
//!     let client_metrics = GrpcMetrics::builder(&registry, Side::Client).build()?;
//!     let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect().await?;
//!     let mut client = HealthClient::new(GrpcClientService::new(channel, client_metrics));
//!     client.check(HealthCheckRequest { service: String::new() }).await?;
//!     Ok(())
//! }
//! ```
//!
//! [`GrpcServerLayer`] has a version of this that runs (a real server and client on
//! 127.0.0.1).
//!
//! ## Labels: register your methods, or let them be discovered
//!
//! - `grpc_type` comes from the methods you register: in one line from the encoded
//!   `FileDescriptorSet` that `tonic-prost-build` writes with `.file_descriptor_set_path(..)`
//!   and you load with `tonic::include_file_descriptor_set!`
//!   ([`GrpcMetricsBuilderExt::file_descriptor_set`], which shows the recipe), or method by
//!   method ([`GrpcMetricsBuilder::service`], [`GrpcMetricsBuilder::method`]).
//! - Without any registered method, methods are discovered from traffic: the client labels
//!   each call by the path it calls; the server only once tonic has shown that it routes the
//!   path (its "no such service/method" answer, and calls that end before a response head,
//!   stay `unknown`). Discovered methods carry `grpc_type="unknown"`, as the streaming kind
//!   is not on the wire. At most [`MAX_DISCOVERED_METHODS`] (1,000) are discovered; other
//!   paths are recorded as `unknown`/`unknown` (type `unknown`), so random paths cannot grow
//!   the number of series. `GrpcMetricsBuilder::discover_methods(false)` turns discovery off.
//!
//! ## Options: the same names as the HTTP adapters
//!
//! gRPC metrics options are the core's [`GrpcMetricsBuilder`] (`handling_seconds_buckets`,
//! `handling_seconds`, `native_histograms`, `initialize`, the methods, the labels from the
//! application and `max_series`); the scrape route takes
//! the core's [`ScrapeHandlerBuilder`] — path, auth, gzip, process collector, concurrency
//! limit, timeout — with exactly the names the axum and actix adapters use in their
//! `.scrape(|s| ..)` hook.
//!
//! ## Labels from the application: tenant, region, outcome
//!
//! Declared once on [`GrpcMetricsBuilder`], with the vocabulary of the HTTP adapters, each
//! bounded by [`LabelValues`] (a declared list with a fallback, or any value up to
//! `max_series`, default [`DEFAULT_APP_LABEL_MAX_SERIES`](promenade_core::grpc_metrics::DEFAULT_APP_LABEL_MAX_SERIES)
//! with such labels):
//!
//! | builder method | read from | labels |
//! |---|---|---|
//! | `request_metadata_label(name, key, values)` | request metadata (HTTP/2 request header) | started, handled, handling seconds |
//! | `request_extension_label::<T, _>(name, values, f)` | a `T` in the request's `http::Extensions` | started, handled, handling seconds |
//! | `response_metadata_label(name, key, values)` | response initial metadata (response head) | handled, handling seconds |
//! | `response_extension_label::<T, _>(name, values, f)` | a `T` in the response's extensions | handled, handling seconds |
//!
//! The layers read the request as they see it, when the call starts, and the response head
//! when it arrives. On a server, whatever inserts `T` must run outside the metrics layer: a
//! layer added before it (`Server::builder().layer(auth).layer(GrpcServerLayer::new(..))`;
//! tonic's `InterceptorLayer` works there); an interceptor on a generated service runs after
//! the call has started and is not seen. On a client, put `T` into the `tonic::Request`'s
//! extensions (tonic hands them to the channel). The message counters keep the Go
//! middleware's labels only. Nothing is read, and nothing allocated, when no such label is
//! declared; with `one_of` lists, a call allocates nothing either.
//!
//! ```
//! use promenade_tonic::{GrpcMetrics, LabelValues, Registry, Side};
//!
//! #[derive(Clone)]
//! struct Tenant { plan: &'static str } // inserted by your auth layer
//!
//! # fn main() -> Result<(), promenade_tonic::Error> {
//! let registry = Registry::new();
//! let metrics = GrpcMetrics::builder(&registry, Side::Server)
//!     .request_extension_label("plan", LabelValues::one_of(&["free", "pro"], "other"), |t: &Tenant| t.plan)
//!     .request_metadata_label("region", "x-region", LabelValues::one_of(&["eu", "us"], "other"))
//!     .response_metadata_label("cache", "x-cache", LabelValues::one_of(&["hit", "miss"], "other"))
//!     .build()?;
//! let layer = promenade_tonic::GrpcServerLayer::new(metrics);
//! # drop(layer); Ok(()) }
//! ```
//!
//! ## Your own metrics beside the gRPC metrics
//!
//! Register them in the same [`Registry`]; the scrape route exposes all of it.
//!
//! ```
//! use promenade_tonic::{Format, GrpcMetrics, Registry, Side};
//!
//! # fn main() -> Result<(), promenade_tonic::Error> {
//! let registry = Registry::new();
//! let metrics = GrpcMetrics::builder(&registry, Side::Server).build()?;
//! let queue = registry.gauge("jobs_queued", "Jobs waiting.")?;
//! queue.set(3.0);
//! assert!(registry.encode_to_string(Format::Text)?.contains("jobs_queued 3"));
//! # drop(metrics); Ok(()) }
//! ```
//!
//! ## Metrics on a separate port
//!
//! ```no_run
//! use promenade_tonic::{Registry, ScrapeHandler};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new();
//! // Serves GET /metrics on 9464 on a spawned task, with a header-read timeout.
//! let addr = promenade_tonic::spawn_metrics_server(
//!     "127.0.0.1:9464".parse()?,
//!     ScrapeHandler::builder(&registry).build()?,
//! )
//! .await?;
//! # let _ = addr; Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `process` | yes | the `process_*` collector, registered by [`ScrapeHandlerBuilder::build`] unless `.process_collector(false)` (as in the HTTP adapters) |
//! | `protobuf` | yes | the protobuf exposition format on `/metrics`, needed for native histograms |
//! | `opentelemetry` | no | exemplar trace ids also from the current OpenTelemetry span context |
//!
//! ## Behaviour worth knowing
//!
//! - [`GrpcServerLayer`] for `Server::builder().layer(..)` and [`GrpcClientService::new`]
//!   (or [`GrpcClientLayer`]) around a `Channel` record everything: status from the response
//!   headers or the trailers (errors raised mid-stream included), messages counted from the
//!   gRPC frames in both directions, duration to the end of the stream, `Canceled` when a
//!   stream is dropped early, `Unavailable` for a transport error on the client.
//! - A server handler that panics (before its response, or mid-stream) is recorded as
//!   `Internal` on `grpc_server_handled_total` and on the handling-seconds histogram (when
//!   that carries the code), as go-grpc-middleware's recovery interceptor answers a recovered
//!   panic with `codes.Internal` — not `Canceled`, which error-rate dashboards usually
//!   exclude. The panic itself is not caught (tonic does not recover handler panics; the
//!   client sees its stream reset and records what it received). The client layer leaves
//!   panics alone: a call its caller abandons, by panicking or not, is `Canceled`.
//! - [`MetricsInterceptor`] counts started calls where only an interceptor fits.
//! - Scrapes ([`with_metrics_route`], [`serve_metrics`], [`spawn_metrics_server`]) run
//!   collectors on tokio's blocking pool, never on the executor, so a slow collector cannot
//!   delay gRPC calls; `max_concurrent_scrapes` and `timeout` on the scrape handler answer 503
//!   beyond them.
//!
//! Differences from the Go middleware, by design:
//! - messages are counted from the wire frames, so an `io.EOF` at the end of a stream is
//!   not a message, and a unary call that fails sends no message;
//! - a call to a method that is not registered is recorded with the fixed `unknown` labels
//!   (`grpc_type="unknown"` too), or discovered labels when nothing is registered (Go's
//!   server never sees calls to unknown services);
//! - the client histogram is on by default (opt-in in Go);
//! - the client's per-message latency histograms (opt-in,
//!   [`GrpcMetricsBuilder::client_msg_histograms`], Go's `WithClientStreamRecvHistogram` /
//!   `WithClientStreamSendHistogram`: `grpc_client_msg_recv_handling_seconds`,
//!   `grpc_client_msg_send_handling_seconds`) time each message from the wire frames: the
//!   time since the previous message in that direction was complete, rather than the
//!   duration of Go's `RecvMsg`/`SendMsg` calls.
//!
//! ## Set a header-read timeout
//!
//! Set one on every HTTP/1.1 listener that serves `/metrics`, so that clients sending their
//! request head a byte at a time cannot hold connections (and file descriptors) for ever.
//! tonic's server applies hyper's default of 30 s to its HTTP/1.1 connections
//! (`accept_http1(true)`), and [`serve_metrics`] closes a connection after
//! [`HEADER_READ_TIMEOUT`]; `axum::serve` has none. Serving [`metrics_router`] yourself, do
//! as `serve_metrics` does:
//!
//! ```no_run
//! # async fn serve(listener: tokio::net::TcpListener, router: axum::Router) -> std::io::Result<()> {
//! use hyper_util::rt::{TokioIo, TokioTimer};
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = hyper_util::service::TowerToHyperService::new(router.clone());
//!     tokio::spawn(async move {
//!         let mut http1 = hyper::server::conn::http1::Builder::new();
//!         http1.timer(TokioTimer::new()).header_read_timeout(std::time::Duration::from_secs(5));
//!         let _ = http1.serve_connection(TokioIo::new(stream), service).await;
//!     });
//! }
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

// The crates.io page (README.md) compiles and runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

// One module per role, as in the tower adapter: the call pieces both sides share, the
// layer and service (written once, generic over the side), their future and bodies, and the
// two sides' public names.
mod body;
mod call;
mod client;
mod code;
mod descriptor;
mod future;
mod interceptor;
mod layer;
mod scrape;
mod server;

pub use body::{CallBody, MsgCountingBody};
pub use call::{CallSide, ClientSide, ServerSide};
pub use client::{GrpcClientLayer, GrpcClientService};
pub use code::{code_name, code_number, grpc_code};
pub use descriptor::{
    GrpcMetricsBuilderExt, HEALTH_METHODS, HEALTH_SERVICE, methods_from_file_descriptor_set,
};
pub use future::CallFuture;
pub use interceptor::MetricsInterceptor;
pub use layer::{GrpcMetricsLayer, GrpcMetricsService};
pub use scrape::{
    HEADER_READ_TIMEOUT, metrics_router, serve_metrics, spawn_metrics_server, with_metrics_route,
};
pub use server::{GrpcServerLayer, GrpcServerService};

// One dependency is enough: the core crate, and what a user of this crate names.
#[doc(no_inline)]
pub use promenade_core;
#[doc(no_inline)]
pub use promenade_core::grpc_metrics::{
    ExtensionsRef, GrpcCode, GrpcMetrics, GrpcMetricsBuilder, GrpcType, LabelValues,
    MAX_DISCOVERED_METHODS, Side,
};
#[doc(no_inline)]
pub use promenade_core::scrape::{DEFAULT_PATH, ScrapeAuth, ScrapeHandler, ScrapeHandlerBuilder};
#[doc(no_inline)]
pub use promenade_core::{
    Buckets, Counter, Error, Family, Format, Gauge, Histogram, NativeBuckets, Registry, Result,
    exponential_buckets, linear_buckets,
};
