//! The `/metrics` endpoint as a plain tower service.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use promenade_core::scrape::{Prepared, ScrapeHandler};
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
/// let resp = MetricsService::new(promenade_tower::ScrapeHandler::new(registry))
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
    /// Serves `handler`: built with [`ScrapeHandler::builder`] for options (auth, gzip,
    /// limits, the process collector), or [`ScrapeHandler::new`] to expose a registry as is.
    ///
    /// ```
    /// use promenade_tower::{MetricsService, ScrapeAuth, ScrapeHandler};
    /// let registry = promenade_core::Registry::new();
    /// let svc = MetricsService::new(ScrapeHandler::builder(&registry).auth(ScrapeAuth::Bearer("t0ken".into())).build()?);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn new(handler: ScrapeHandler) -> Self {
        Self {
            handler: Arc::new(handler),
        }
    }

    /// The core handler behind this service.
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// let svc = promenade_tower::MetricsService::new(promenade_tower::ScrapeHandler::new(r));
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
/// let svc = promenade_tower::MetricsService::new(promenade_tower::ScrapeHandler::new(promenade_core::Registry::new()));
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
