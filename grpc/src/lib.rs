//! # promenade-tonic
//!
//! Prometheus instrumentation for [tonic](https://docs.rs/tonic) gRPC servers and clients,
//! with exactly the metric names, labels and code strings of the Go ecosystem's gRPC
//! Prometheus middleware (`go-grpc-middleware/providers/prometheus`, formerly
//! `go-grpc-prometheus`), so existing dashboards and alerts work unchanged:
//!
//! | server | client | labels |
//! |---|---|---|
//! | `grpc_server_started_total` | `grpc_client_started_total` | `grpc_type`, `grpc_service`, `grpc_method` |
//! | `grpc_server_handled_total` | `grpc_client_handled_total` | … + `grpc_code` (`OK`, `Canceled`, `NotFound`, …) |
//! | `grpc_server_msg_received_total` | `grpc_client_msg_received_total` | base labels |
//! | `grpc_server_msg_sent_total` | `grpc_client_msg_sent_total` | base labels |
//! | `grpc_server_handling_seconds` | `grpc_client_handling_seconds` | base labels (histogram, default buckets, on by default) |
//!
//! - [`GrpcServerLayer`] for `Server::builder().layer(..)` and [`GrpcClientLayer`] for a
//!   `Channel` record everything: status from the response headers or the trailers (errors
//!   raised mid-stream included), messages counted from the gRPC frames in both directions,
//!   duration to the end of the stream, `Canceled` when a stream is dropped early.
//! - A server handler that panics (before its response, or mid-stream) is recorded as
//!   `Internal` on `grpc_server_handled_total` and on the handling-seconds histogram (when
//!   that carries the code), as go-grpc-middleware's recovery interceptor answers a recovered
//!   panic with `codes.Internal` — not `Canceled`, which error-rate dashboards usually
//!   exclude. The panic itself is not caught (tonic does not recover handler panics; the
//!   client sees its stream reset and records what it received). The client layer leaves
//!   panics alone: a call its caller abandons, by panicking or not, is `Canceled`.
//! - `grpc_type` comes from the methods you register: in one line from the encoded
//!   `FileDescriptorSet` you build for reflection ([`GrpcMetricsBuilderExt`]), or method by
//!   method. Unregistered paths are recorded as `unknown`/`unknown` (type `unary`), so random
//!   paths cannot grow the number of series.
//! - [`MetricsInterceptor`] counts started calls where only an interceptor fits.
//! - [`with_metrics_route`] serves `/metrics` on the gRPC port; [`serve_metrics`] /
//!   [`spawn_metrics_server`] on a port of its own. Collectors run on tokio's blocking pool,
//!   never on the executor, so a slow collector cannot delay gRPC calls; the core
//!   [`ScrapeHandler`](promenade_core::scrape::ScrapeHandler) can cap concurrent scrapes and
//!   scrape time (`with_max_concurrent_scrapes`, `with_scrape_timeout`: 503 beyond them).
//!
//! ```
//! use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, Side}, scrape::ScrapeHandler};
//! use promenade_tonic::{GrpcMetricsBuilderExt as _, GrpcServerLayer, with_metrics_route};
//!
//! // The encoded `FileDescriptorSet` of your protos, as tonic-prost-build writes it with
//! // `.file_descriptor_set_path(..)`; here: helloworld.Greeter with SayHello and Chat.
//! // const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
//! # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new();
//! let metrics = GrpcMetrics::builder(&registry, Side::Server)
//!     .file_descriptor_set(FILE_DESCRIPTOR_SET)?
//!     .build()?;
//! // Your services: `Routes::new(GreeterServer::new(MyGreeter)).add_service(..)`.
//! let routes = tonic::service::Routes::default();
//! let server = tonic::transport::Server::builder()
//!     .accept_http1(true) // HTTP/1.1 scrapes on the gRPC port
//!     .layer(GrpcServerLayer::new(metrics))
//!     .add_routes(with_metrics_route(routes, ScrapeHandler::builder(&registry).build()?));
//! // server.serve("127.0.0.1:50051".parse()?).await?;
//! # drop(server);
//! assert!(registry.encode_to_string(Format::Text)?.contains("# TYPE grpc_server_handled_total counter"));
//! # Ok(()) }
//! ```
//!
//! Differences from the Go middleware, by design:
//! - messages are counted from the wire frames, so an `io.EOF` at the end of a stream is
//!   not a message, and a unary call that fails sends no message;
//! - a call to a method that is not registered is recorded with the fixed `unknown` labels
//!   (Go's server never sees calls to unknown services);
//! - the client histogram is on by default (opt-in in Go), and the client's per-message
//!   latency histograms are not offered.
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
pub use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, GrpcMetricsBuilder, GrpcType, Side};
#[doc(no_inline)]
pub use promenade_core::scrape::{DEFAULT_PATH, ScrapeAuth, ScrapeHandler, ScrapeHandlerBuilder};
#[doc(no_inline)]
pub use promenade_core::{
    Buckets, Counter, Error, Family, Format, Gauge, Histogram, NativeBuckets, Registry, Result,
    exponential_buckets, linear_buckets,
};
