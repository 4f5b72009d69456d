//! The `/metrics` endpoint as a plain tower service.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use promenade_core::Registry;
use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
use tower_service::Service;

/// A tower [`Service`] answering Prometheus scrapes for a registry, for any request body
/// type: GET and HEAD (405 otherwise), `Accept` negotiation (OpenMetrics or text), gzip when
/// accepted, optional bearer or basic auth (401 without metrics otherwise). It answers every
/// request it gets, whatever the path; route it yourself (axum users: see
/// [`Prometheus`](crate::Prometheus)).
///
/// ```
/// use http_body_util::BodyExt;
/// use promenade_tower::MetricsService;
/// use tower::ServiceExt;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let registry = promenade_core::Registry::new();
/// registry.counter("jobs_total", "Jobs.").unwrap().inc();
/// let resp = MetricsService::new(registry)
///     .oneshot(http::Request::get("/metrics").body(()).unwrap())
///     .await
///     .unwrap();
/// assert_eq!(resp.status(), 200);
/// let body = resp.into_body().collect().await.unwrap().to_bytes();
/// assert!(std::str::from_utf8(&body).unwrap().contains("jobs_total 1"));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct MetricsService {
    handler: Arc<ScrapeHandler>,
}

impl MetricsService {
    /// Serves `registry` with gzip allowed and no auth.
    ///
    /// ```
    /// let svc = promenade_tower::MetricsService::new(promenade_core::Registry::new());
    /// ```
    pub fn new(registry: Registry) -> Self {
        Self::from_handler(ScrapeHandler::new(registry))
    }

    /// Serves a configured core [`ScrapeHandler`].
    ///
    /// ```
    /// use promenade_tower::{MetricsService, ScrapeHandler};
    /// let svc = MetricsService::from_handler(ScrapeHandler::new(promenade_core::Registry::new()).with_gzip(false));
    /// ```
    pub fn from_handler(handler: ScrapeHandler) -> Self {
        Self {
            handler: Arc::new(handler),
        }
    }

    /// Requires credentials (bearer token or basic auth).
    ///
    /// ```
    /// use promenade_tower::{MetricsService, ScrapeAuth};
    /// let svc = MetricsService::new(promenade_core::Registry::new()).with_auth(ScrapeAuth::Bearer("t0ken".into()));
    /// ```
    pub fn with_auth(self, auth: ScrapeAuth) -> Self {
        Self::from_handler(self.handler.as_ref().clone().with_auth(auth))
    }

    /// Allows or forbids gzip responses (default: allowed when the scraper accepts them).
    ///
    /// ```
    /// let svc = promenade_tower::MetricsService::new(promenade_core::Registry::new()).with_gzip(false);
    /// ```
    pub fn with_gzip(self, on: bool) -> Self {
        Self::from_handler(self.handler.as_ref().clone().with_gzip(on))
    }

    /// The core handler behind this service.
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// let svc = promenade_tower::MetricsService::new(r);
    /// svc.handler().registry().gauge("g", "G.").unwrap();
    /// ```
    pub fn handler(&self) -> &ScrapeHandler {
        &self.handler
    }
}

impl<B> Service<Request<B>> for MetricsService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let response = self.handler.respond(req.method(), req.headers());
        ready(Ok(response.map(Full::new)))
    }
}
