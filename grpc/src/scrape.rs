//! Serving `/metrics` beside gRPC: on the gRPC port (HTTP/1.1 scrapes next to HTTP/2 gRPC)
//! or on a port of its own. Negotiation, gzip and auth come from the core's
//! [`ScrapeHandler`].

use std::net::SocketAddr;

use axum::body::Body;
use axum::routing::any;
use http::{HeaderMap, Method};
use promenade_core::scrape::ScrapeHandler;
use tonic::service::Routes;

/// The default scrape path.
///
/// ```
/// assert_eq!(promenade_tonic::METRICS_PATH, "/metrics");
/// ```
pub const METRICS_PATH: &str = "/metrics";

/// An axum router answering `path` with `handler` (GET and HEAD; other methods get 405).
///
/// ```
/// use promenade_core::{Registry, scrape::ScrapeHandler};
/// let router = promenade_tonic::metrics_router("/metrics", ScrapeHandler::new(Registry::new()));
/// # drop(router);
/// ```
pub fn metrics_router(path: &str, handler: ScrapeHandler) -> axum::Router {
    axum::Router::new().route(
        path,
        any(move |method: Method, headers: HeaderMap| {
            let handler = handler.clone();
            async move { handler.respond(&method, &headers).map(Body::from) }
        }),
    )
}

/// Adds the scrape route to tonic [`Routes`], for `/metrics` on the gRPC port. Serve the
/// result with `Server::builder().accept_http1(true)` (Prometheus scrapes over HTTP/1.1):
///
/// ```no_run
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}, scrape::ScrapeHandler};
/// use promenade_tonic::{GrpcMetricsBuilderExt as _, GrpcServerLayer, with_metrics_route};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Server)
///     .file_descriptor_set(promenade_tonic_demo::FILE_DESCRIPTOR_SET)?
///     .build()?;
/// let routes = tonic::service::Routes::new(promenade_tonic_demo::server());
/// tonic::transport::Server::builder()
///     .accept_http1(true)
///     .layer(GrpcServerLayer::new(metrics))
///     .add_routes(with_metrics_route(routes, "/metrics", ScrapeHandler::new(registry)))
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(()) }
/// ```
pub fn with_metrics_route(routes: Routes, path: &str, handler: ScrapeHandler) -> Routes {
    Routes::from(
        routes
            .into_axum_router()
            .merge(metrics_router(path, handler)),
    )
}

/// Serves `handler` at [`METRICS_PATH`] on its own listener (HTTP/1.1), until the future is
/// dropped or the listener fails.
///
/// ```no_run
/// use promenade_core::{Registry, scrape::ScrapeHandler};
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9464").await?;
/// tokio::spawn(promenade_tonic::serve_metrics(listener, ScrapeHandler::new(Registry::new())));
/// # Ok(()) }
/// ```
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    handler: ScrapeHandler,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(METRICS_PATH, handler)).await
}

/// Binds `addr` and serves `handler` at [`METRICS_PATH`]; returns the bound address (useful
/// with port 0) once listening, and runs the server on a spawned task.
///
/// ```
/// use promenade_core::{Registry, scrape::ScrapeHandler};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let addr = promenade_tonic::spawn_metrics_server("127.0.0.1:0".parse().unwrap(), ScrapeHandler::new(Registry::new())).await?;
/// assert!(addr.port() != 0);
/// # Ok(()) }
/// ```
pub async fn spawn_metrics_server(
    addr: SocketAddr,
    handler: ScrapeHandler,
) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(serve_metrics(listener, handler));
    Ok(local)
}
