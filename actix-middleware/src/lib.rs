//! # promenade-actix
//!
//! actix-web middleware for Promenade: counts requests, measures their duration (to the end of
//! the response body, streaming included) and tracks requests in flight, with exactly the
//! metric names, labels, buckets and policies of the tower adapter — both call the shared
//! [`promenade_core::http_metrics::HttpMetrics`]. The middleware also answers `GET`/`HEAD` on
//! the metrics path (default `/metrics`) itself, whatever routes the application registers.
//!
//! ```
//! use actix_web::{App, HttpResponse, web};
//! use promenade_actix::PrometheusMetrics;
//! use promenade_core::Registry;
//!
//! # actix_rt::System::new().block_on(async {
//! let registry = Registry::new();
//! // Build once, outside `HttpServer::new`, and clone into every worker's App.
//! let metrics = PrometheusMetrics::builder(&registry).build().unwrap();
//!
//! let app = actix_web::test::init_service(
//!     App::new()
//!         .wrap(metrics.clone())
//!         .route("/users/{id}", web::get().to(|| async { HttpResponse::Ok().body("hi") })),
//! )
//! .await;
//! let req = actix_web::test::TestRequest::get().uri("/users/7").to_request();
//! let body = actix_web::test::call_and_read_body(&app, req).await;
//! assert_eq!(&body[..], b"hi");
//!
//! let req = actix_web::test::TestRequest::get().uri("/metrics").to_request();
//! let text = actix_web::test::call_and_read_body(&app, req).await;
//! let text = std::str::from_utf8(&text).unwrap();
//! assert!(text.contains(r#"http_requests_total{method="GET",route="/users/{id}",status="200"} 1"#));
//! # });
//! ```
//!
//! Behaviour worth knowing:
//! - **Route label**: actix's matched pattern (`HttpRequest::match_pattern`), full path
//!   including `web::scope` prefixes; requests that match no resource get `unmatched`. The
//!   pattern is resolved once when the request enters the middleware (actix resolves it from
//!   the application's resource map, so it is available before routing), which also gives the
//!   in-flight gauge its route.
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
//! - **Streaming**: the response body is wrapped in [`MetricsBody`], which records the request
//!   when the body ends or is dropped.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

// The crates.io page (README.md) compiles and runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use std::cell::Cell;
use std::future::{Future, Ready, ready};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderMap as ActixHeaderMap, HeaderName, HeaderValue};
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_core::Stream;
use pin_project_lite::pin_project;

pub use promenade_core::http_metrics::{DurationEnd, HttpMetrics, Naming, RequestInfo};
pub use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
pub use promenade_core::{Buckets, Registry};

use promenade_core::http_metrics::{HeaderLookup, HttpMetricsBuilder, RequestTracker};

/// Default path of the scrape route the middleware answers.
///
/// ```
/// let mw = promenade_actix::PrometheusMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
/// assert_eq!(mw.metrics_path(), Some(promenade_actix::DEFAULT_METRICS_PATH));
/// ```
pub const DEFAULT_METRICS_PATH: &str = "/metrics";

/// actix-web's header map (http 0.2 types) seen through the core's [`HeaderLookup`].
struct ActixHeaders<'a>(&'a ActixHeaderMap);

impl HeaderLookup for ActixHeaders<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.to_str().ok())
    }
}

struct ScrapeRoute {
    path: String,
    handler: ScrapeHandler,
}

struct Shared {
    metrics: HttpMetrics,
    scrape: Option<ScrapeRoute>,
    instrument_scrape: bool,
    catch_panics: bool,
    body_sizes: bool,
}

/// The actix-web middleware factory: pass it to `App::wrap` (or `Scope::wrap`).
///
/// Cheap to clone; every clone shares one set of metrics, so build it once outside
/// `HttpServer::new` and clone it into each worker's `App` to get process-wide counts.
///
/// ```
/// use actix_web::{App, HttpServer, web};
/// use promenade_actix::PrometheusMetrics;
///
/// let registry = promenade_core::Registry::new();
/// let metrics = PrometheusMetrics::builder(&registry).build().unwrap();
/// let server = HttpServer::new(move || {
///     App::new()
///         .wrap(metrics.clone())
///         .route("/", web::get().to(|| async { "hello" }))
/// });
/// # drop(server);
/// ```
#[derive(Clone)]
pub struct PrometheusMetrics {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetrics")
            .field("metrics", &self.shared.metrics)
            .field(
                "metrics_path",
                &self.shared.scrape.as_ref().map(|s| s.path.as_str()),
            )
            .finish_non_exhaustive()
    }
}

/// Configures [`PrometheusMetrics`]: the options of the core's
/// [`HttpMetricsBuilder`] (forwarded unchanged) plus the scrape route and panic handling.
///
/// ```
/// use promenade_actix::{Buckets, DurationEnd, Naming, PrometheusMetrics, ScrapeAuth};
///
/// let registry = promenade_core::Registry::new();
/// let metrics = PrometheusMetrics::builder(&registry)
///     .buckets(Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
///     .naming(Naming::Prometheus)
///     .extra_methods(&["PROPFIND"])
///     .status_classes(false)
///     .body_sizes(true)
///     .duration_end(DurationEnd::Body)
///     .exclude_path("/health")
///     .const_label("service", "shop")
///     .derived_label("tenant", |info| info.headers.header("x-tenant").unwrap_or("none").to_owned())
///     .max_series(5_000)
///     .metrics_path("/internal/metrics")
///     .scrape_auth(ScrapeAuth::Bearer("s3cret".into()))
///     .catch_panics(true)
///     .build()
///     .unwrap();
/// # drop(metrics);
/// ```
pub struct PrometheusMetricsBuilder {
    http: HttpMetricsBuilder,
    registry: Registry,
    metrics_path: Option<String>,
    auth: Option<ScrapeAuth>,
    gzip: bool,
    instrument_scrape: bool,
    catch_panics: bool,
    body_sizes: bool,
    process_collector: bool,
}

impl std::fmt::Debug for PrometheusMetricsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetricsBuilder")
            .field("http", &self.http)
            .field("metrics_path", &self.metrics_path)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl PrometheusMetrics {
    /// Starts configuring the middleware; its metrics are registered in `registry`, which the
    /// scrape route exposes.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let metrics = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// # drop(metrics);
    /// ```
    pub fn builder(registry: &Registry) -> PrometheusMetricsBuilder {
        PrometheusMetricsBuilder {
            http: HttpMetrics::builder(registry),
            registry: registry.clone(),
            metrics_path: Some(DEFAULT_METRICS_PATH.to_owned()),
            auth: None,
            gzip: true,
            instrument_scrape: false,
            catch_panics: false,
            body_sizes: false,
            process_collector: true,
        }
    }

    /// Middleware around HTTP metrics built elsewhere (for example shared with another
    /// server in the same process). It does not answer a scrape route; mount one with
    /// [`metrics_route`].
    ///
    /// ```
    /// use promenade_actix::{HttpMetrics, PrometheusMetrics};
    /// let registry = promenade_core::Registry::new();
    /// let http = HttpMetrics::builder(&registry).build().unwrap();
    /// let mw = PrometheusMetrics::from_http_metrics(http);
    /// assert!(mw.metrics_path().is_none());
    /// ```
    pub fn from_http_metrics(metrics: HttpMetrics) -> Self {
        Self {
            shared: Arc::new(Shared {
                metrics,
                scrape: None,
                instrument_scrape: false,
                catch_panics: false,
                body_sizes: false,
            }),
        }
    }

    /// The shared HTTP metrics this middleware records into.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// assert_eq!(mw.http_metrics().method_label("GET"), "GET");
    /// ```
    pub fn http_metrics(&self) -> &HttpMetrics {
        &self.shared.metrics
    }

    /// The path the middleware answers scrapes on, if any.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// assert_eq!(mw.metrics_path(), Some("/metrics"));
    /// ```
    pub fn metrics_path(&self) -> Option<&str> {
        self.shared.scrape.as_ref().map(|s| s.path.as_str())
    }

    /// The scrape handler of the middleware's route, if any (to mount it elsewhere too).
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// assert!(mw.scrape_handler().is_some());
    /// ```
    pub fn scrape_handler(&self) -> Option<&ScrapeHandler> {
        self.shared.scrape.as_ref().map(|s| &s.handler)
    }
}

impl PrometheusMetricsBuilder {
    fn map_http(mut self, f: impl FnOnce(HttpMetricsBuilder) -> HttpMetricsBuilder) -> Self {
        self.http = f(self.http);
        self
    }

    /// Duration buckets (default: the Prometheus defaults).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r)
    ///     .buckets(promenade_actix::Buckets::new(vec![0.1, 1.0]).unwrap());
    /// # b.build().unwrap();
    /// ```
    pub fn buckets(self, buckets: Buckets) -> Self {
        self.map_http(|h| h.buckets(buckets))
    }

    /// Metric naming preset (Prometheus names by default, or OpenTelemetry, or both).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).naming(promenade_actix::Naming::OpenTelemetry);
    /// # b.build().unwrap();
    /// ```
    pub fn naming(self, naming: Naming) -> Self {
        self.map_http(|h| h.naming(naming))
    }

    /// Methods kept by name in addition to the standard ones; others are `_OTHER`.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).extra_methods(&["PROPFIND"]);
    /// # b.build().unwrap();
    /// ```
    pub fn extra_methods<S: AsRef<str>>(self, methods: &[S]) -> Self {
        self.map_http(|h| h.extra_methods(methods))
    }

    /// Groups status codes into classes (`2xx`, …) instead of exact codes.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).status_classes(true);
    /// # b.build().unwrap();
    /// ```
    pub fn status_classes(self, on: bool) -> Self {
        self.map_http(|h| h.status_classes(on))
    }

    /// Adds request and response body size histograms. Request bytes are those the handler
    /// read before the response head; response bytes are those the body produced.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).body_sizes(true);
    /// # b.build().unwrap();
    /// ```
    pub fn body_sizes(mut self, on: bool) -> Self {
        self.body_sizes = on;
        self.map_http(|h| h.body_sizes(on))
    }

    /// Where the duration ends: end of body (default) or response head.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).duration_end(promenade_actix::DurationEnd::Head);
    /// # b.build().unwrap();
    /// ```
    pub fn duration_end(self, end: DurationEnd) -> Self {
        self.map_http(|h| h.duration_end(end))
    }

    /// A raw path that is not instrumented at all (exact match).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).exclude_path("/health");
    /// # b.build().unwrap();
    /// ```
    pub fn exclude_path(self, path: &str) -> Self {
        self.map_http(|h| h.exclude_path(path))
    }

    /// A constant label on every HTTP series.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).const_label("service", "shop");
    /// # b.build().unwrap();
    /// ```
    pub fn const_label(self, name: &str, value: &str) -> Self {
        self.map_http(|h| h.const_label(name, value))
    }

    /// A label computed from each request (keep its values few).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r)
    ///     .derived_label("api", |info| if info.path.starts_with("/api/") { "yes" } else { "no" }.to_owned());
    /// # b.build().unwrap();
    /// ```
    pub fn derived_label<F>(self, name: &str, f: F) -> Self
    where
        F: Fn(&RequestInfo<'_>) -> String + Send + Sync + 'static,
    {
        self.map_http(|h| h.derived_label(name, f))
    }

    /// Cap on request series.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).max_series(1000);
    /// # b.build().unwrap();
    /// ```
    pub fn max_series(self, max: usize) -> Self {
        self.map_http(|h| h.max_series(max))
    }

    /// The path the middleware answers scrapes on (default `/metrics`).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&r).metrics_path("/internal/metrics").build().unwrap();
    /// assert_eq!(mw.metrics_path(), Some("/internal/metrics"));
    /// ```
    pub fn metrics_path(mut self, path: &str) -> Self {
        self.metrics_path = Some(path.to_owned());
        self
    }

    /// The middleware does not answer scrapes; mount [`metrics_route`] yourself.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&r).without_metrics_route().build().unwrap();
    /// assert_eq!(mw.metrics_path(), None);
    /// ```
    pub fn without_metrics_route(mut self) -> Self {
        self.metrics_path = None;
        self
    }

    /// Requires credentials on the scrape route (401 otherwise).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r)
    ///     .scrape_auth(promenade_actix::ScrapeAuth::Bearer("token".into()));
    /// # b.build().unwrap();
    /// ```
    pub fn scrape_auth(mut self, auth: ScrapeAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Whether the scrape route may gzip its answer when the scraper accepts it (default on).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).scrape_gzip(false);
    /// # b.build().unwrap();
    /// ```
    pub fn scrape_gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Whether scrapes are themselves counted in the HTTP metrics (default off).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).instrument_scrape(true);
    /// # b.build().unwrap();
    /// ```
    pub fn instrument_scrape(mut self, on: bool) -> Self {
        self.instrument_scrape = on;
        self
    }

    /// Turns a handler panic into a `500 Internal Server Error` response instead of letting
    /// it unwind into actix (which drops the connection). Either way it is recorded as `500`.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).catch_panics(true);
    /// # b.build().unwrap();
    /// ```
    pub fn catch_panics(mut self, on: bool) -> Self {
        self.catch_panics = on;
        self
    }

    /// Whether to register the process collector (`process_cpu_seconds_total`,
    /// `process_resident_memory_bytes`, … on Linux) along with the HTTP metrics; on by default,
    /// as in the tower adapter. Already registered process metrics are left as they are.
    ///
    /// ```
    /// use promenade_core::{Format, Registry};
    /// let with = Registry::new();
    /// promenade_actix::PrometheusMetrics::builder(&with).build().unwrap();
    /// let without = Registry::new();
    /// promenade_actix::PrometheusMetrics::builder(&without).process_collector(false).build().unwrap();
    /// assert!(!without.encode_to_string(Format::Text).unwrap().contains("process_"));
    /// # #[cfg(target_os = "linux")]
    /// assert!(with.encode_to_string(Format::Text).unwrap().contains("process_resident_memory_bytes"));
    /// ```
    pub fn process_collector(mut self, on: bool) -> Self {
        self.process_collector = on;
        self
    }

    /// Adds native (sparse) buckets to the request-duration histogram, next to the classic
    /// ones; Prometheus gets them when it scrapes protobuf with native histograms enabled.
    ///
    /// ```
    /// let b = promenade_actix::PrometheusMetrics::builder(&promenade_core::Registry::new())
    ///     .native_histograms(promenade_core::NativeBuckets::default());
    /// assert!(b.build().is_ok());
    /// ```
    pub fn native_histograms(self, native: promenade_core::NativeBuckets) -> Self {
        self.map_http(|h| h.native_histograms(native))
    }

    /// Validates the configuration and registers the metrics.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// assert!(promenade_actix::PrometheusMetrics::builder(&r).max_series(0).build().is_err());
    /// ```
    pub fn build(self) -> promenade_core::Result<PrometheusMetrics> {
        let metrics = self.http.build()?;
        #[cfg(not(feature = "process"))]
        let _ = self.process_collector;
        #[cfg(feature = "process")]
        if self.process_collector {
            promenade_core::collectors::ensure_process_collector(&self.registry)?;
        }
        let scrape = self.metrics_path.map(|path| {
            let mut handler = ScrapeHandler::new(self.registry.clone()).with_gzip(self.gzip);
            if let Some(auth) = self.auth {
                handler = handler.with_auth(auth);
            }
            ScrapeRoute { path, handler }
        });
        Ok(PrometheusMetrics {
            shared: Arc::new(Shared {
                metrics,
                scrape,
                instrument_scrape: self.instrument_scrape,
                catch_panics: self.catch_panics,
                body_sizes: self.body_sizes,
            }),
        })
    }
}

impl<S, B> Transform<S, ServiceRequest> for PrometheusMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<MetricsBody<B>>>;
    type Error = Error;
    type Transform = PrometheusMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PrometheusMetricsMiddleware {
            service,
            shared: Arc::clone(&self.shared),
        }))
    }
}

/// The per-worker middleware service created by [`PrometheusMetrics`]; you do not build it
/// yourself.
///
/// ```
/// use actix_web::{App, web};
/// # actix_rt::System::new().block_on(async {
/// let registry = promenade_core::Registry::new();
/// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
/// // `init_service` runs `Transform::new_transform`, which creates this service.
/// let app = actix_web::test::init_service(App::new().wrap(mw).route("/", web::get().to(|| async { "ok" }))).await;
/// # drop(app);
/// # });
/// ```
pub struct PrometheusMetricsMiddleware<S> {
    service: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for PrometheusMetricsMiddleware<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetricsMiddleware")
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for PrometheusMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<MetricsBody<B>>>;
    type Error = Error;
    type Future = MetricsFuture<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let shared = &self.shared;
        if let Some(scrape) = &shared.scrape
            && req.path() == scrape.path
        {
            let tracker = shared.instrument_scrape.then(|| {
                shared.metrics.start(&RequestInfo {
                    method: req.method().as_str(),
                    route: Some(&scrape.path),
                    path: req.path(),
                    headers: &ActixHeaders(req.headers()),
                })
            });
            let response = scrape_response(req.request(), &scrape.handler);
            if let Some(mut tracker) = tracker {
                tracker.response_head(response.status().as_u16());
            }
            return MetricsFuture {
                state: State::Scrape {
                    res: Some(req.into_response(response)),
                },
            };
        }
        if shared.metrics.is_excluded(req.path()) {
            return MetricsFuture {
                state: State::Tracked {
                    fut: self.service.call(req),
                    tracker: None,
                    request_bytes: None,
                    catch_panics: false,
                },
            };
        }
        let pattern = req.match_pattern();
        let tracker = shared.metrics.start(&RequestInfo {
            method: req.method().as_str(),
            route: pattern.as_deref(),
            path: req.path(),
            headers: &ActixHeaders(req.headers()),
        });
        let request_bytes = shared.body_sizes.then(|| {
            let counter = Rc::new(Cell::new(0u64));
            let payload = req.take_payload();
            req.set_payload(Payload::Stream {
                payload: Box::pin(CountingPayload {
                    inner: payload,
                    counter: Rc::clone(&counter),
                }),
            });
            counter
        });
        // A service whose `call` itself panics is recorded like a panicking handler.
        let fut = match catch_unwind(AssertUnwindSafe(|| self.service.call(req))) {
            Ok(fut) => fut,
            Err(panic) => {
                let mut tracker = tracker;
                tracker.response_head(StatusCode::INTERNAL_SERVER_ERROR.as_u16());
                drop(tracker);
                if !shared.catch_panics {
                    resume_unwind(panic);
                }
                return MetricsFuture {
                    state: State::Failed {
                        err: Some(panic_error()),
                    },
                };
            }
        };
        MetricsFuture {
            state: State::Tracked {
                fut,
                tracker: Some(tracker),
                request_bytes,
                catch_panics: shared.catch_panics,
            },
        }
    }
}

/// The error a caught panic turns into (a `500 Internal Server Error` response).
fn panic_error() -> Error {
    actix_web::error::ErrorInternalServerError("request handler panicked")
}

/// Counts the request body bytes the handler reads.
struct CountingPayload {
    inner: Payload,
    counter: Rc<Cell<u64>>,
}

impl Stream for CountingPayload {
    type Item = Result<Bytes, actix_web::error::PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.counter
                .set(self.counter.get().saturating_add(chunk.len() as u64));
        }
        polled
    }
}

pin_project! {
    /// The response future of [`PrometheusMetricsMiddleware`].
    ///
    /// ```
    /// # actix_rt::System::new().block_on(async {
    /// use actix_web::dev::Service as _;
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// let app = actix_web::test::init_service(actix_web::App::new().wrap(mw)).await;
    /// let future = app.call(actix_web::test::TestRequest::get().uri("/x").to_request());
    /// assert_eq!(future.await.unwrap().status(), 404);
    /// # });
    /// ```
    pub struct MetricsFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // A request passed on to the wrapped service (tracked unless excluded).
        Tracked {
            #[pin]
            fut: F,
            tracker: Option<RequestTracker>,
            request_bytes: Option<Rc<Cell<u64>>>,
            catch_panics: bool,
        },
        // A scrape answered by the middleware itself.
        Scrape {
            res: Option<ServiceResponse<BoxBody>>,
        },
        // The wrapped service panicked in `call` (and panics are caught).
        Failed {
            err: Option<Error>,
        },
    }
}

impl<F> std::fmt::Debug for MetricsFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsFuture").finish_non_exhaustive()
    }
}

impl<F, B> Future for MetricsFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<MetricsBody<B>>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Scrape { res } => Poll::Ready(match res.take() {
                Some(res) => Ok(res.map_into_right_body()),
                None => Err(actix_web::error::ErrorInternalServerError(
                    "metrics future polled after completion",
                )),
            }),
            StateProj::Failed { err } => Poll::Ready(Err(err.take().unwrap_or_else(panic_error))),
            StateProj::Tracked {
                fut,
                tracker,
                request_bytes,
                catch_panics,
            } => {
                let Some(t) = tracker.as_mut() else {
                    // Excluded path: pass through untouched.
                    return fut.poll(cx).map(|r| {
                        r.map(|res| {
                            res.map_body(|_, body| {
                                EitherBody::left(MetricsBody {
                                    body,
                                    tracker: None,
                                })
                            })
                        })
                    });
                };
                let polled = match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(result)) => result,
                    Err(panic) => {
                        t.response_head(StatusCode::INTERNAL_SERVER_ERROR.as_u16());
                        drop(tracker.take());
                        if *catch_panics {
                            return Poll::Ready(Err(panic_error()));
                        }
                        resume_unwind(panic);
                    }
                };
                if let Some(counter) = request_bytes.as_ref() {
                    t.add_request_bytes(counter.get());
                }
                match polled {
                    Ok(res) => {
                        t.response_head(res.status().as_u16());
                        let tracker = tracker.take();
                        Poll::Ready(Ok(res.map_body(|_, body| {
                            EitherBody::left(MetricsBody { body, tracker })
                        })))
                    }
                    Err(err) => {
                        t.response_head(err.as_response_error().status_code().as_u16());
                        drop(tracker.take());
                        Poll::Ready(Err(err))
                    }
                }
            }
        }
    }
}

pin_project! {
    /// A response body that records its request when the body has been sent completely, fails
    /// or is dropped (client gone), counting the bytes it produced.
    ///
    /// ```
    /// # actix_rt::System::new().block_on(async {
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// let app = actix_web::test::init_service(
    ///     actix_web::App::new().wrap(mw).route("/", actix_web::web::get().to(|| async { "abc" })),
    /// ).await;
    /// let res = actix_web::test::call_service(&app, actix_web::test::TestRequest::get().uri("/").to_request()).await;
    /// // The request is recorded once the body is read to the end.
    /// let body = actix_web::test::read_body(res).await;
    /// assert_eq!(&body[..], b"abc");
    /// # });
    /// ```
    pub struct MetricsBody<B> {
        #[pin]
        body: B,
        tracker: Option<RequestTracker>,
    }
}

impl<B> std::fmt::Debug for MetricsBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsBody")
            .field("tracked", &self.tracker.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: MessageBody> MessageBody for MetricsBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let polled = this.body.poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(t) = this.tracker.as_mut() {
                    t.add_response_bytes(chunk.len() as u64);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => drop(this.tracker.take()),
            Poll::Pending => {}
        }
        polled
    }
}

/// Answers a scrape request with `handler`: negotiation, gzip and auth from the core; `GET`
/// and `HEAD` only (405 otherwise). Use it to write your own scrape route.
///
/// ```
/// use actix_web::{HttpRequest, test::TestRequest};
/// use promenade_actix::{ScrapeHandler, scrape_response};
///
/// let registry = promenade_core::Registry::new();
/// registry.counter("jobs_total", "Jobs.").unwrap().inc();
/// let handler = ScrapeHandler::new(registry);
/// let req: HttpRequest = TestRequest::get().insert_header(("accept", "application/openmetrics-text;version=1.0.0")).to_http_request();
/// let res = scrape_response(&req, &handler);
/// assert_eq!(res.status(), 200);
/// assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("application/openmetrics-text; version=1.0.0"));
/// ```
pub fn scrape_response(req: &HttpRequest, handler: &ScrapeHandler) -> HttpResponse {
    let method =
        http::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(http::Method::POST);
    let mut headers = http::HeaderMap::new();
    for name in [
        http::header::ACCEPT,
        http::header::ACCEPT_ENCODING,
        http::header::AUTHORIZATION,
    ] {
        for value in req.headers().get_all(name.as_str()) {
            if let Ok(v) = http::HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name.clone(), v);
            }
        }
    }
    let response = handler.respond(&method, &headers);
    let status = StatusCode::from_u16(response.status().as_u16())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in response.headers() {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((n, v));
        }
    }
    builder.body(response.into_body())
}

/// Mounts a scrape route at `path` through `App::configure`: `GET` and `HEAD` answered by
/// `handler`, other methods `405`. An alternative to the middleware's own route.
///
/// ```
/// use actix_web::{App, test};
/// use promenade_actix::{ScrapeHandler, metrics_route};
///
/// # actix_rt::System::new().block_on(async {
/// let registry = promenade_core::Registry::new();
/// registry.gauge("temperature", "Temperature.").unwrap().set(21.5);
/// let app = test::init_service(App::new().configure(metrics_route("/metrics", ScrapeHandler::new(registry)))).await;
/// let body = test::call_and_read_body(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
/// assert!(std::str::from_utf8(&body).unwrap().contains("temperature 21.5"));
/// let res = test::call_service(&app, test::TestRequest::post().uri("/metrics").to_request()).await;
/// assert_eq!(res.status(), 405);
/// # });
/// ```
pub fn metrics_route(path: &str, handler: ScrapeHandler) -> impl FnOnce(&mut web::ServiceConfig) {
    let path = path.to_owned();
    move |cfg: &mut web::ServiceConfig| {
        let handler = web::Data::new(handler);
        cfg.service(
            web::resource(path)
                .app_data(handler)
                .default_service(web::to(
                    |req: HttpRequest, handler: web::Data<ScrapeHandler>| async move {
                        scrape_response(&req, &handler)
                    },
                )),
        );
    }
}
