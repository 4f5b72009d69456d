//! The plain-hyper demo: a hyper 1 server with no web framework, instrumented with
//! promenade-tower's layer (the route label from a route extractor) and `/metrics` answered
//! by its `MetricsService`. Routes: `GET /` and `GET /users/{id}`; `/metrics`; 404 otherwise.

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use promenade_tower::{
    HttpMetricsLayer, MetricsService, Registry, RouteRequest, ScrapeHandler, route_fn,
};
use tower::{Layer as _, ServiceExt as _, service_fn};

/// How long a client may take to send a request head before the connection is closed.
///
/// ```
/// assert_eq!(promenade_examples::hyper_demo::HEADER_READ_TIMEOUT.as_secs(), 5);
/// ```
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The response body of every route: the handlers' bytes or the scrape's.
type DemoBody = UnsyncBoxBody<Bytes, Infallible>;

/// The route template of a request, from its path: what a router would have matched. Any
/// path outside the routes is `None` (recorded as `unmatched`), so raw paths never become
/// labels.
///
/// ```
/// use promenade_examples::hyper_demo::route_of;
/// assert_eq!(route_of("/users/42"), Some("/users/{id}"));
/// assert_eq!(route_of("/"), Some("/"));
/// assert_eq!(route_of("/users/42/x"), None);
/// ```
pub fn route_of(path: &str) -> Option<&'static str> {
    match path {
        "/" => Some("/"),
        "/metrics" => Some("/metrics"),
        p if p
            .strip_prefix("/users/")
            .is_some_and(|id| !id.is_empty() && !id.contains('/')) =>
        {
            Some("/users/{id}")
        }
        _ => None,
    }
}

async fn app(
    req: Request<hyper::body::Incoming>,
    scrape: MetricsService,
) -> Result<Response<DemoBody>, Infallible> {
    let text = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
        *response.status_mut() = status;
        response
    };
    let path = req.uri().path().to_owned();
    Ok(match (req.method(), route_of(&path)) {
        (_, Some("/metrics")) => {
            let response = scrape.oneshot(req).await?;
            response.map(|body| body.boxed_unsync())
        }
        (&Method::GET, Some("/")) => text(StatusCode::OK, "hello\n".to_owned()),
        (&Method::GET, Some(_)) => {
            let id = path.trim_start_matches("/users/");
            text(StatusCode::OK, format!("user {id}\n"))
        }
        (_, Some(_)) => text(StatusCode::METHOD_NOT_ALLOWED, String::new()),
        (_, None) => text(StatusCode::NOT_FOUND, String::new()),
    })
}

/// Serves the demo on `listener` until the future is dropped: each connection gets hyper's
/// HTTP/1.1 server with a header-read timeout, around the instrumented service.
///
/// # Errors
///
/// When the metrics cannot be registered in `registry` (a second demo on it), or accepting
/// fails for good.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let registry = promenade_core::Registry::new();
/// let server = tokio::spawn(async move { promenade_examples::hyper_demo::serve(listener, &registry).await });
/// server.abort();
/// # });
/// ```
pub async fn serve(listener: tokio::net::TcpListener, registry: &Registry) -> std::io::Result<()> {
    let handler = ScrapeHandler::builder(registry).build()?;
    // The layer wraps every route, the scrape route included: leave scrapes out of the
    // request metrics unless the handler says to count them (as the axum and actix
    // adapters do).
    let scrape_path = (!handler.counts_scrapes()).then(|| handler.path().to_owned());
    let layer = HttpMetricsLayer::builder(registry)
        .metrics(|m| match &scrape_path {
            Some(path) => m.exclude_path(path),
            None => m,
        })
        .route_extractor(route_fn(|req: &RouteRequest<'_>| {
            route_of(req.uri.path()).map(Cow::Borrowed)
        }))
        .build()?;
    let scrape = MetricsService::new(handler);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Usually transient (EMFILE, ECONNABORTED): pause and go on.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let scrape = scrape.clone();
        let service = layer.layer(service_fn(move |req| app(req, scrape.clone())));
        tokio::spawn(async move {
            let mut http1 = hyper::server::conn::http1::Builder::new();
            http1
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT);
            // A connection error concerns that client only.
            let _ = http1
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .await;
        });
    }
}

/// Binds `addr` and serves the demo on a spawned task; returns the bound address.
///
/// # Errors
///
/// When binding fails.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let registry = promenade_core::Registry::new();
/// let addr = promenade_examples::hyper_demo::spawn("127.0.0.1:0".parse().unwrap(), registry).await.unwrap();
/// assert_ne!(addr.port(), 0);
/// # });
/// ```
pub async fn spawn(addr: SocketAddr, registry: Registry) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move { serve(listener, &registry).await });
    Ok(local)
}
