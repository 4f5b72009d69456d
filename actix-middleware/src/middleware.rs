//! The actix-web middleware: [`PrometheusMetrics`], the `Transform` passed to `App::wrap`,
//! and [`PrometheusMetricsMiddleware`], the per-worker `Service` that measures each request
//! or answers a scrape itself.

use std::cell::OnceCell;
use std::future::{Ready, ready};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ResourceMap, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::StatusCode;
use promenade_core::Registry;
use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
use promenade_core::scrape::ScrapeHandler;

use crate::body::ResponseBody;
use crate::builder::PrometheusMetricsBuilder;
use crate::future::{PathCopy, ResponseFuture, RouteLater, Routed};
use crate::parts::{ActixHeaders, read_request_extensions};
use crate::scrape::scrape_route;

/// What every clone of the factory and every worker's service share: one set of metrics and
/// the options the builder settled.
pub(crate) struct Shared {
    pub(crate) metrics: HttpMetrics,
    /// The scrape route the middleware answers itself (path, options), if any.
    pub(crate) scrape: Option<ScrapeHandler>,
    pub(crate) catch_panics: bool,
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
                "path",
                &self.shared.scrape.as_ref().map(ScrapeHandler::path),
            )
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
        PrometheusMetricsBuilder::new(registry)
    }

    /// Middleware around HTTP metrics built elsewhere (for example shared with another
    /// server in the same process). It does not answer a scrape route; mount one with
    /// [`metrics_route`](crate::metrics_route).
    ///
    /// ```
    /// use promenade_actix::{HttpMetrics, PrometheusMetrics};
    /// let registry = promenade_core::Registry::new();
    /// let http = HttpMetrics::builder(&registry).build().unwrap();
    /// let mw = PrometheusMetrics::from_http_metrics(http);
    /// assert!(mw.path().is_none());
    /// ```
    pub fn from_http_metrics(metrics: HttpMetrics) -> Self {
        Self::from_shared(Shared {
            metrics,
            scrape: None,
            catch_panics: false,
        })
    }

    /// The factory around a finished configuration (what the builder produces).
    pub(crate) fn from_shared(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
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
    /// assert_eq!(mw.path(), Some(promenade_actix::DEFAULT_PATH));
    /// ```
    pub fn path(&self) -> Option<&str> {
        self.shared.scrape.as_ref().map(ScrapeHandler::path)
    }

    /// The scrape handler of the middleware's route, if any (to mount it elsewhere too).
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// assert!(mw.scrape_handler().is_some());
    /// ```
    pub fn scrape_handler(&self) -> Option<&ScrapeHandler> {
        self.shared.scrape.as_ref()
    }
}

impl<S, B> Transform<S, ServiceRequest> for PrometheusMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<ResponseBody<B>>>;
    type Error = Error;
    type Transform = PrometheusMetricsMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(PrometheusMetricsMiddleware {
            service,
            shared: Arc::clone(&self.shared),
            resource_map: OnceCell::new(),
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
    /// The app's routes, taken from the first request: what a request that ends without a
    /// response (cancelled, failed, panicked) is matched against to find its route.
    resource_map: OnceCell<Rc<ResourceMap>>,
}

impl<S> std::fmt::Debug for PrometheusMetricsMiddleware<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetricsMiddleware")
            .finish_non_exhaustive()
    }
}

impl<S, B> PrometheusMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    /// Calls the wrapped service for an excluded request: nothing recorded, panics caught
    /// as for any request when [`catch_panics`](crate::PrometheusMetricsBuilder::catch_panics) is on.
    fn untracked(&self, req: ServiceRequest) -> ResponseFuture<S::Future> {
        if !self.shared.catch_panics {
            return ResponseFuture::untracked(self.service.call(req), false);
        }
        match catch_unwind(AssertUnwindSafe(|| self.service.call(req))) {
            Ok(fut) => ResponseFuture::untracked(fut, true),
            Err(_) => ResponseFuture::panicked(),
        }
    }
}

impl<S, B> Service<ServiceRequest> for PrometheusMetricsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<EitherBody<ResponseBody<B>>>;
    type Error = Error;
    type Future = ResponseFuture<S::Future>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let shared = &self.shared;
        if let Some(scrape) = &shared.scrape
            && req.path() == scrape.path()
        {
            // Counted scrapes follow the exclusions like any route (as they do in tower).
            let counted = scrape.counts_scrapes()
                && !shared.metrics.is_excluded(req.path())
                && !shared.metrics.is_route_excluded(Some(scrape.path()));
            let tracker = counted.then(|| {
                let mut tracker = shared.metrics.start(&RequestInfo {
                    method: req.method().as_str(),
                    route: Some(scrape.path()),
                    path: req.path(),
                    headers: &ActixHeaders(req.headers()),
                });
                if shared.metrics.reads_request_extensions() {
                    read_request_extensions(&mut tracker, req.request());
                }
                tracker
            });
            return scrape_route(scrape, req, tracker);
        }
        if shared.metrics.is_excluded(req.path()) {
            return self.untracked(req);
        }
        // Before routing, the route costs a second path match (about 0.6 µs): taken only
        // when in-flight needs it or a route rule decides whether the request is recorded
        // (deciding after routing would leave an excluded request, a long-lived one
        // especially, in in-flight meanwhile); otherwise the route comes from the
        // response, after routing.
        let by_route = shared.metrics.in_flight_by_route() || shared.metrics.excludes_by_route();
        let pattern = if by_route { req.match_pattern() } else { None };
        if by_route && shared.metrics.is_route_excluded(pattern.as_deref()) {
            return self.untracked(req);
        }
        let mut tracker = shared.metrics.start(&RequestInfo {
            method: req.method().as_str(),
            route: pattern.as_deref(),
            path: req.path(),
            headers: &ActixHeaders(req.headers()),
        });
        if shared.metrics.reads_request_extensions() {
            read_request_extensions(&mut tracker, req.request());
        }
        let later = (!by_route).then(|| RouteLater {
            resource_map: Rc::clone(
                self.resource_map
                    .get_or_init(|| Rc::new(req.resource_map().clone())),
            ),
            path: PathCopy::new(req.path()),
        });
        let mut routed = Routed::new(tracker, later);
        // A service whose `call` itself panics is recorded like a panicking handler: caught
        // here when asked, else `routed` is dropped while the thread unwinds (see `Routed`).
        if !shared.catch_panics {
            let fut = self.service.call(req);
            return ResponseFuture::tracked(fut, Some(routed), false);
        }
        match catch_unwind(AssertUnwindSafe(|| self.service.call(req))) {
            Ok(fut) => ResponseFuture::tracked(fut, Some(routed), true),
            Err(_) => {
                routed.fail(StatusCode::INTERNAL_SERVER_ERROR.as_u16());
                ResponseFuture::panicked()
            }
        }
    }
}
