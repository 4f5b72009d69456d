//! Serving `/metrics` beside gRPC: on the gRPC port (HTTP/1.1 scrapes next to HTTP/2 gRPC)
//! or on a port of its own. Negotiation, gzip, auth and the scrape limits come from the
//! core's [`ScrapeHandler`]; collectors run on tokio's blocking pool, never on the executor.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::routing::any;
use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use promenade_core::scrape::{Prepared, ScrapeHandler};
use promenade_core::server::MetricsServer;
use tonic::service::Routes;

/// How long [`serve_metrics`] waits for a request head before it closes the connection, so
/// that clients sending their headers byte by byte cannot hold connections open.
///
/// ```
/// assert_eq!(promenade_tonic::HEADER_READ_TIMEOUT.as_secs(), 5);
/// ```
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// An axum router answering `handler`'s [path](ScrapeHandler::path) with `handler` (GET and
/// HEAD; other methods get 405).
///
/// Collectors run on tokio's blocking pool, so a slow collector delays only the scrape
/// (with a [timeout](promenade_core::scrape::ScrapeHandlerBuilder::timeout), at most that long: then 503); a panicking
/// one makes it a 500. `HEAD` runs no collector and answers without `Content-Length`.
///
/// ```
/// use promenade_core::{Registry, scrape::ScrapeHandler};
/// let router = promenade_tonic::metrics_router(ScrapeHandler::new(Registry::new()));
/// # drop(router);
/// ```
pub fn metrics_router(handler: ScrapeHandler) -> axum::Router {
    let path = handler.path().to_owned();
    axum::Router::new().route(
        &path,
        any(move |method: Method, headers: HeaderMap| {
            let prepared = handler.prepare(&method, &headers);
            async move {
                let response = match prepared {
                    Prepared::Answer(response) => response,
                    Prepared::Encode(job) => match tokio::runtime::Handle::try_current() {
                        Ok(rt) => job.spawn_with(move |work| rt.spawn_blocking(work)).await,
                        Err(_) => job.run(),
                    },
                };
                into_axum(response, method == Method::HEAD)
            }
        }),
    )
}

fn into_axum(response: Response<Bytes>, head: bool) -> Response<Body> {
    if head {
        // An empty body of unknown length: axum would announce `Content-Length: 0` for
        // an exact empty one.
        response.map(|_| Body::new(NoLength))
    } else {
        response.map(Body::from)
    }
}

/// The body of a `HEAD` answer: empty, without an exact size.
struct NoLength;

impl http_body::Body for NoLength {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(None)
    }
}

/// Adds the scrape route (at `handler`'s [path](ScrapeHandler::path)) to tonic [`Routes`],
/// for `/metrics` on the gRPC port. Serve the
/// result with `Server::builder().accept_http1(true)` (Prometheus scrapes over HTTP/1.1):
///
/// ```no_run
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}, scrape::ScrapeHandler};
/// use promenade_tonic::{GrpcMetricsBuilderExt as _, GrpcServerLayer, with_metrics_route};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // The encoded FileDescriptorSet of your services, as for gRPC reflection:
/// // const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptor.bin"));
/// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Server)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET)?
///     .build()?;
/// // Your services' routes (here none): `Routes::new(GreeterServer::new(my_greeter))`.
/// let routes = tonic::service::Routes::default();
/// tonic::transport::Server::builder()
///     .accept_http1(true)
///     .layer(GrpcServerLayer::new(metrics))
///     .add_routes(with_metrics_route(routes, ScrapeHandler::builder(&registry).build()?))
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(()) }
/// ```
pub fn with_metrics_route(routes: Routes, handler: ScrapeHandler) -> Routes {
    Routes::from(routes.into_axum_router().merge(metrics_router(handler)))
}

/// Serves `handler` at its [path](ScrapeHandler::path) on its own listener (HTTP/1.1), until the future is
/// dropped; other paths get 404. A connection whose request head does not arrive within
/// [`HEADER_READ_TIMEOUT`] is closed. Failed accepts (such as running out of file
/// descriptors) are retried after a short pause. Needs a tokio runtime with timers enabled
/// (`#[tokio::main]` has them), as tonic's own server does.
///
/// This is the core's [`MetricsServer`] without a health path; use it directly for a health
/// path, a Unix socket, a graceful shutdown or a background thread.
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
    MetricsServer::builder(handler)
        .health_path(None)
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .build()?
        .serve(listener, std::future::pending())
        .await
}

/// Binds `addr` and serves `handler` at its [path](ScrapeHandler::path) (as [`serve_metrics`]); returns
/// the bound address (useful with port 0) once listening, and runs the server on a spawned
/// task.
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
