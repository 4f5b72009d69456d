//! The axum demo application: a few routes instrumented with `promenade-tower`, and
//! `GET /metrics`.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /` | `hello` |
//! | `GET /users/{id}` | `user {id}`, its [`DemoOutcome`] in the response's extensions and `x-outcome` |
//! | `POST /echo` | the request body back |
//! | `GET /slow?ms=N` | answers after N ms (default 100, at most 10 000) |
//! | `GET /stream` | a chunked body of [`STREAM_CHUNKS`] chunks over about 100 ms |
//! | `GET /panic` | the handler panics; `CatchPanicLayer` answers 500 |
//! | `GET /metrics` | Prometheus scrape (not counted in the HTTP metrics) |
//!
//! An auth-like layer outside the metrics layer puts a [`DemoTenant`] (from the `x-tier`
//! header) into each request's extensions, for labels from the application.
//!
//! [`serve`] closes a connection whose request head has not arrived within
//! [`HEADER_READ_TIMEOUT`] (`axum::serve` has no such timeout), so clients that send their
//! headers a byte at a time cannot hold connections and starve scrapes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::Uri;
use axum::routing::{get, post};
use promenade_core::Registry;
use promenade_tower::{Prometheus, PrometheusRouterExt};
use tower_http::catch_panic::CatchPanicLayer;

pub use crate::DemoOptions;
use crate::{DemoOutcome, DemoTenant, OUTCOME_HEADER, TIER_HEADER};

/// Number of chunks `/stream` sends.
///
/// ```
/// assert_eq!(promenade_examples::axum_demo::STREAM_CHUNKS, 10);
/// ```
pub const STREAM_CHUNKS: u32 = 10;
/// Pause before each `/stream` chunk.
///
/// ```
/// use promenade_examples::axum_demo::{STREAM_CHUNKS, STREAM_INTERVAL};
/// assert_eq!((STREAM_INTERVAL * STREAM_CHUNKS).as_millis(), 100);
/// ```
pub const STREAM_INTERVAL: Duration = Duration::from_millis(10);
/// Upper bound for `/slow?ms=N`.
///
/// ```
/// assert_eq!(promenade_examples::axum_demo::MAX_SLOW_MS, 10_000);
/// ```
pub const MAX_SLOW_MS: u64 = 10_000;

/// How long a client may take to send a request head before [`serve`] closes its connection.
///
/// ```
/// assert_eq!(promenade_examples::axum_demo::HEADER_READ_TIMEOUT.as_secs(), 5);
/// ```
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The demo router with HTTP metrics registered in `registry` and `GET /metrics`.
///
/// Fails only if `registry` already holds HTTP metrics.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// let app: axum::Router = promenade_examples::axum_demo::axum_app(&registry).unwrap();
/// // A second app on the same registry would register the same metrics twice.
/// assert!(promenade_examples::axum_demo::axum_app(&registry).is_err());
/// ```
pub fn axum_app(registry: &Registry) -> Result<Router, promenade_core::Error> {
    axum_app_with(registry, &DemoOptions::default())
}

/// [`axum_app`] with options.
///
/// ```
/// use promenade_examples::axum_demo::{axum_app_with, DemoOptions};
/// assert!(axum_app_with(&promenade_core::Registry::new(), &DemoOptions::default()).is_ok());
/// ```
pub fn axum_app_with(
    registry: &Registry,
    options: &DemoOptions,
) -> Result<Router, promenade_core::Error> {
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route("/users/{id}", get(user))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route("/slow", get(slow))
        .route("/stream", get(|| async { Body::new(Ticker::new()) }))
        .route("/panic", get(panics))
        // Inside the metrics layer: the layer sees the 500 response.
        .layer(CatchPanicLayer::new());
    let prometheus = Prometheus::builder(registry)
        .metrics(|m| options.apply(m))
        .build()?;
    // Outside the metrics layer, as an auth layer would be: the tenant is in the request's
    // extensions when the metrics layer sees the request.
    Ok(app
        .with_prometheus(prometheus)?
        .layer(axum::middleware::from_fn(insert_tenant)))
}

/// The demo's auth-like layer: a [`DemoTenant`] from the `x-tier` header, if any.
async fn insert_tenant(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(tier) = req.headers().get(TIER_HEADER).and_then(|v| v.to_str().ok()) {
        let tenant = DemoTenant {
            tier: tier.to_owned(),
        };
        req.extensions_mut().insert(tenant);
    }
    next.run(req).await
}

/// Serves the demo on `listener` until the process ends (or the future is dropped).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let registry = promenade_core::Registry::new();
/// let server = tokio::spawn(async move {
///     promenade_examples::axum_demo::serve(listener, &registry).await
/// });
/// server.abort();
/// # });
/// ```
pub async fn serve(listener: tokio::net::TcpListener, registry: &Registry) -> std::io::Result<()> {
    serve_with(listener, registry, &DemoOptions::default()).await
}

/// [`serve`] with options.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use promenade_examples::axum_demo::{serve_with, DemoOptions};
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let registry = promenade_core::Registry::new();
/// let server = tokio::spawn(async move { serve_with(listener, &registry, &DemoOptions { native: true, ..Default::default() }).await });
/// server.abort();
/// # });
/// ```
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    registry: &Registry,
    options: &DemoOptions,
) -> std::io::Result<()> {
    let app = axum_app_with(registry, options).map_err(std::io::Error::other)?;
    serve_app(listener, app).await
}

/// Serves any `app` on `listener` over HTTP/1.1 as `axum::serve` does, except that a
/// connection whose request head has not arrived within [`HEADER_READ_TIMEOUT`] is closed.
/// Runs until the future is dropped; failed accepts (out of file descriptors, …) are
/// retried after a short pause.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
/// let server = tokio::spawn(promenade_examples::axum_demo::serve_app(listener, app));
/// server.abort();
/// # });
/// ```
pub async fn serve_app(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Usually transient (EMFILE, ECONNABORTED): pause and go on, as axum::serve.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http1 = hyper::server::conn::http1::Builder::new();
            http1
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            // A connection error concerns that client only.
            let _ = http1
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

async fn user(Path(id): Path<String>) -> impl axum::response::IntoResponse {
    let outcome = DemoOutcome::of_user(&id);
    (
        [(OUTCOME_HEADER, outcome.0)],
        axum::Extension(outcome),
        format!("user {id}\n"),
    )
}

async fn slow(uri: Uri) -> String {
    let ms = uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|kv| kv.strip_prefix("ms="))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(100)
        .min(MAX_SLOW_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms\n")
}

#[allow(clippy::unused_async)]
async fn panics() -> &'static str {
    panic!("/panic was called (the demo's deliberate panic)")
}

/// A chunked body: [`STREAM_CHUNKS`] chunks, one every [`STREAM_INTERVAL`].
struct Ticker {
    sent: u32,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Ticker {
    fn new() -> Self {
        Self {
            sent: 0,
            sleep: Box::pin(tokio::time::sleep(STREAM_INTERVAL)),
        }
    }
}

impl http_body::Body for Ticker {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.sent >= STREAM_CHUNKS {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sent += 1;
        let deadline = tokio::time::Instant::now() + STREAM_INTERVAL;
        self.sleep.as_mut().reset(deadline);
        let chunk = Bytes::from(format!("chunk {}\n", self.sent));
        Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= STREAM_CHUNKS
    }
}
