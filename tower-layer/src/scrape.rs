//! The `/metrics` endpoint as a plain tower service.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use promenade_core::Registry;
use promenade_core::scrape::{Prepared, ScrapeAuth, ScrapeHandler};
use tower_service::Service;

/// A tower [`Service`] answering Prometheus scrapes for a registry, for any request body
/// type: GET and HEAD (405 otherwise), `Accept` negotiation (OpenMetrics or text), gzip when
/// accepted, optional bearer or basic auth (401 without metrics otherwise), optional limits
/// on concurrent scrapes and scrape time (503). It answers every request it gets, whatever
/// the path; route it yourself (axum users: see [`Prometheus`](crate::Prometheus)).
///
/// Collectors run on tokio's blocking pool (`spawn_blocking`), never on the executor, so a
/// slow collector delays only the scrape; without a tokio runtime they run in place. A
/// collector that panics makes the scrape a 500. `HEAD` runs no collector and answers
/// without `Content-Length`.
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
    #[must_use]
    pub fn with_auth(self, auth: ScrapeAuth) -> Self {
        Self::from_handler(self.handler.as_ref().clone().with_auth(auth))
    }

    /// Allows or forbids gzip responses (default: allowed when the scraper accepts them).
    ///
    /// ```
    /// let svc = promenade_tower::MetricsService::new(promenade_core::Registry::new()).with_gzip(false);
    /// ```
    #[must_use]
    pub fn with_gzip(self, on: bool) -> Self {
        Self::from_handler(self.handler.as_ref().clone().with_gzip(on))
    }

    /// Limits how many scrapes run collectors at once; one more answers 503 at once. See
    /// [`ScrapeHandler::with_max_concurrent_scrapes`].
    ///
    /// ```
    /// let svc = promenade_tower::MetricsService::new(promenade_core::Registry::new()).with_max_concurrent_scrapes(2);
    /// assert_eq!(svc.handler().max_concurrent_scrapes(), Some(2));
    /// ```
    #[must_use]
    pub fn with_max_concurrent_scrapes(self, max: usize) -> Self {
        Self::from_handler(
            self.handler
                .as_ref()
                .clone()
                .with_max_concurrent_scrapes(max),
        )
    }

    /// Answers 503 when collecting and encoding take longer than `timeout`. See
    /// [`ScrapeHandler::with_scrape_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let svc = promenade_tower::MetricsService::new(promenade_core::Registry::new()).with_scrape_timeout(Duration::from_secs(8));
    /// assert_eq!(svc.handler().scrape_timeout(), Some(Duration::from_secs(8)));
    /// ```
    #[must_use]
    pub fn with_scrape_timeout(self, timeout: Duration) -> Self {
        Self::from_handler(self.handler.as_ref().clone().with_scrape_timeout(timeout))
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
    type Response = Response<ScrapeBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let head = req.method() == Method::HEAD;
        let job = match self.handler.prepare(req.method(), req.headers()) {
            Prepared::Answer(response) => return Box::pin(ready(Ok(body(response, head)))),
            Prepared::Encode(job) => job,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                // Started here, not at the first poll.
                let scrape = job.spawn_with(move |work| runtime.spawn_blocking(work));
                Box::pin(async move { Ok(body(scrape.await, head)) })
            }
            // No runtime to offload to (a plain executor, a test): run in place.
            Err(_) => Box::pin(ready(Ok(body(job.run(), head)))),
        }
    }
}

fn body(response: Response<Bytes>, head: bool) -> Response<ScrapeBody> {
    response.map(|bytes| ScrapeBody {
        // A HEAD answer must not announce a length: the GET's is not known.
        exact: !head,
        data: (!head && !bytes.is_empty()).then_some(bytes),
    })
}

/// The response body of [`MetricsService`]: the encoded metrics in one frame, with an exact
/// size hint (so `Content-Length` is set), except for `HEAD`, whose empty body has no size
/// hint so that no `Content-Length: 0` is announced for it.
///
/// ```
/// use http_body::Body as _;
/// use tower::ServiceExt;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let svc = promenade_tower::MetricsService::new(promenade_core::Registry::new());
/// let head = svc.oneshot(http::Request::head("/metrics").body(()).unwrap()).await.unwrap();
/// assert_eq!(head.body().size_hint().exact(), None);
/// assert!(head.body().is_end_stream());
/// # });
/// ```
#[derive(Debug)]
pub struct ScrapeBody {
    data: Option<Bytes>,
    exact: bool,
}

impl Body for ScrapeBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.data.take().map(|d| Ok(Frame::data(d))))
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        if self.exact {
            SizeHint::with_exact(self.data.as_ref().map_or(0, |d| d.len() as u64))
        } else {
            SizeHint::default()
        }
    }
}
