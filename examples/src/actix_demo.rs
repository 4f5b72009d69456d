//! The actix-web demo server: the same routes and command line as `axum-demo`, instrumented
//! with [`promenade_actix::PrometheusMetrics`].
//!
//! Routes: `GET /`, `GET /users/{id}`, `POST /echo`, `GET /slow?ms=N`, `GET /stream` (a chunked
//! body over about 100 ms), `GET /panic` (recorded and answered as 500) and `GET /metrics`. As
//! in the axum demo, [`insert_tenant`] (outside the metrics middleware) puts a
//! [`DemoTenant`] from `x-tier` into request extensions, and
//! `/users/{id}` sets its [`DemoOutcome`] (response extension and
//! `x-outcome`).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! actix_rt::System::new().block_on(async {
//!     let registry = promenade_core::Registry::new();
//!     let (server, addr) = promenade_examples::actix_demo::server("127.0.0.1:0", &registry)?;
//!     println!("listening on http://{addr}");
//!     server.await
//! })
//! # }
//! ```

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage as _;
use actix_web::dev::{Server, ServiceRequest};
use actix_web::{App, HttpResponse, HttpServer, guard, web};
use bytes::Bytes;
use futures_core::Stream;
use promenade_actix::PrometheusMetrics;
use promenade_core::Registry;

use crate::{DemoOptions, DemoOutcome, DemoTenant, OUTCOME_HEADER, TIER_HEADER};

/// Default listen address of `actix-demo`.
///
/// ```
/// assert_eq!(promenade_examples::actix_demo::DEFAULT_ADDR, "127.0.0.1:3001");
/// ```
pub const DEFAULT_ADDR: &str = "127.0.0.1:3001";

/// Number of lines `/stream` sends, 10 ms apart (as in the axum demo).
///
/// ```
/// assert_eq!(promenade_examples::actix_demo::STREAM_CHUNKS, promenade_examples::axum_demo::STREAM_CHUNKS);
/// ```
pub const STREAM_CHUNKS: u32 = 10;

/// How long a client may take to send a request head before the server closes the
/// connection (`HttpServer::client_request_timeout`).
///
/// ```
/// assert_eq!(promenade_examples::actix_demo::HEADER_READ_TIMEOUT, promenade_examples::axum_demo::HEADER_READ_TIMEOUT);
/// ```
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest `/slow` sleep honoured, in milliseconds.
///
/// ```
/// assert_eq!(promenade_examples::actix_demo::MAX_SLOW_MS, 60_000);
/// ```
pub const MAX_SLOW_MS: u64 = 60_000;

/// The demo's middleware: default names and buckets, `/metrics` answered by the middleware,
/// panics turned into 500 responses.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// let mw = promenade_examples::actix_demo::metrics(&registry).unwrap();
/// assert_eq!(mw.path(), Some("/metrics"));
/// ```
pub fn metrics(registry: &Registry) -> promenade_core::Result<PrometheusMetrics> {
    metrics_with(registry, &DemoOptions::default())
}

/// [`metrics()`] with options (`--native` adds native histogram buckets).
///
/// ```
/// use promenade_examples::{DemoOptions, actix_demo::metrics_with};
/// let registry = promenade_core::Registry::new();
/// assert!(metrics_with(&registry, &DemoOptions { native: true, ..Default::default() }).is_ok());
/// ```
pub fn metrics_with(
    registry: &Registry,
    options: &DemoOptions,
) -> promenade_core::Result<PrometheusMetrics> {
    PrometheusMetrics::builder(registry)
        .metrics(|m| options.apply(m))
        .catch_panics(true)
        .build()
}

/// The demo's auth-like middleware (pass it to `App::wrap_fn` outside the metrics
/// middleware): a [`DemoTenant`] from the `x-tier` header, if any, into the request's
/// extensions.
///
/// ```
/// use actix_web::{App, test, web};
/// # actix_rt::System::new().block_on(async {
/// let app = test::init_service(App::new().wrap_fn(promenade_examples::actix_demo::insert_tenant).route(
///     "/",
///     web::get().to(|t: Option<web::ReqData<promenade_examples::DemoTenant>>| async move {
///         t.map_or_else(String::new, |t| t.tier.clone())
///     }),
/// ))
/// .await;
/// let req = test::TestRequest::get().uri("/").insert_header(("x-tier", "pro")).to_request();
/// assert_eq!(test::call_and_read_body(&app, req).await, "pro");
/// # });
/// ```
pub fn insert_tenant<S>(req: ServiceRequest, srv: &S) -> S::Future
where
    S: actix_web::dev::Service<ServiceRequest>,
{
    if let Some(tier) = req.headers().get(TIER_HEADER).and_then(|v| v.to_str().ok()) {
        let tenant = DemoTenant {
            tier: tier.to_owned(),
        };
        req.extensions_mut().insert(tenant);
    }
    srv.call(req)
}

/// `/users/{id}`: the user, with its [`DemoOutcome`] in the response's extensions and header.
async fn user(id: web::Path<String>) -> HttpResponse {
    let outcome = DemoOutcome::of_user(&id);
    let mut response = HttpResponse::Ok()
        .insert_header((OUTCOME_HEADER, outcome.0))
        .body(format!("user {id}\n"));
    response.extensions_mut().insert(outcome);
    response
}

/// The demo's routes, for `App::configure`.
///
/// ```
/// # actix_rt::System::new().block_on(async {
/// use actix_web::{App, test};
/// let registry = promenade_core::Registry::new();
/// let mw = promenade_examples::actix_demo::metrics(&registry).unwrap();
/// let app = test::init_service(App::new().wrap(mw).configure(promenade_examples::actix_demo::routes)).await;
/// let body = test::call_and_read_body(&app, test::TestRequest::get().uri("/users/42").to_request()).await;
/// assert_eq!(&body[..], b"user 42\n");
/// # });
/// ```
pub fn routes(cfg: &mut web::ServiceConfig) {
    // Resources answer a method they have no route for with 405, as axum does.
    cfg.service(
        web::resource("/").route(get_or_head().to(|| async { "Promenade actix-web demo\n" })),
    )
    .service(web::resource("/users/{id}").route(get_or_head().to(user)))
    .service(web::resource("/echo").route(web::post().to(|body: Bytes| async move { body })))
    .service(web::resource("/slow").route(get_or_head().to(slow)))
    .service(web::resource("/stream").route(get_or_head().to(stream)))
    .service(web::resource("/panic").route(get_or_head().to(panic)));
}

/// `GET` and `HEAD`, as axum's `get` routes answer both; other methods get `405`.
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

async fn slow(query: web::Query<HashMap<String, String>>) -> HttpResponse {
    let ms = query
        .get("ms")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(100)
        .min(MAX_SLOW_MS);
    actix_rt::time::sleep(Duration::from_millis(ms)).await;
    HttpResponse::Ok().body(format!("slept {ms} ms\n"))
}

async fn stream() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .streaming(Ticker::new(STREAM_CHUNKS, Duration::from_millis(10)))
}

async fn panic() -> HttpResponse {
    panic!("GET /panic: this handler panics on purpose");
}

/// A body of `left` lines, one every `interval` (the `/stream` route).
struct Ticker {
    sent: u32,
    left: u32,
    interval: Duration,
    sleep: Pin<Box<actix_rt::time::Sleep>>,
}

impl Ticker {
    fn new(chunks: u32, interval: Duration) -> Self {
        Self {
            sent: 0,
            left: chunks,
            interval,
            sleep: Box::pin(actix_rt::time::sleep(interval)),
        }
    }
}

impl Stream for Ticker {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.left -= 1;
        self.sent += 1;
        let next = actix_rt::time::Instant::now() + self.interval;
        self.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Bytes::from(format!("chunk {}\n", self.sent)))))
    }
}

/// Binds the demo server on `addr` (all workers share one set of metrics registered in
/// `registry`) and returns it, not yet polled, with the address actually bound. Await the
/// server inside an actix system to run it.
///
/// ```
/// # actix_rt::System::new().block_on(async {
/// let registry = promenade_core::Registry::new();
/// let (server, addr) = promenade_examples::actix_demo::server("127.0.0.1:0", &registry).unwrap();
/// assert_ne!(addr.port(), 0);
/// let handle = server.handle();
/// actix_rt::spawn(server);
/// handle.stop(false).await;
/// # });
/// ```
pub fn server(addr: &str, registry: &Registry) -> io::Result<(Server, SocketAddr)> {
    server_with(addr, registry, &DemoOptions::default())
}

/// [`server`] with options.
///
/// ```
/// # actix_rt::System::new().block_on(async {
/// use promenade_examples::{DemoOptions, actix_demo::server_with};
/// let registry = promenade_core::Registry::new();
/// let (server, _addr) = server_with("127.0.0.1:0", &registry, &DemoOptions { native: true, ..Default::default() }).unwrap();
/// let handle = server.handle();
/// actix_rt::spawn(server);
/// handle.stop(false).await;
/// # });
/// ```
pub fn server_with(
    addr: &str,
    registry: &Registry,
    options: &DemoOptions,
) -> io::Result<(Server, SocketAddr)> {
    let metrics = metrics_with(registry, options).map_err(io::Error::other)?;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(metrics.clone())
            // Outside the metrics middleware, as an auth middleware would be: the tenant is
            // in the request's extensions when the metrics middleware sees the request.
            .wrap_fn(insert_tenant)
            .configure(routes)
    })
    // A client must send its request head within this time (actix's default, made
    // explicit): clients sending it a byte at a time cannot hold connections.
    .client_request_timeout(HEADER_READ_TIMEOUT)
    .shutdown_timeout(2)
    // A client that closes its side (FIN) has gone away: cancel its request and record
    // it as 499, as hyper does. actix keeps half-closed connections running by default.
    .h1_allow_half_closed(false)
    .bind(addr)?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| io::Error::other("server bound no address"))?;
    Ok((server.run(), bound))
}
