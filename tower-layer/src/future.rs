//! The response future of the metrics service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use promenade_core::http_metrics::ExtensionsRef;

use crate::body::{ResponseBody, Tracked};

pin_project! {
    /// Response future of [`HttpMetricsService`](crate::HttpMetricsService).
    ///
    /// Sets the status when the inner service answers and hands the measurement to the
    /// [`ResponseBody`]. If the future is dropped first (client disconnected, timeout,
    /// cancellation) the request is recorded as `499`; if it is dropped by a panic
    /// unwinding through it, as `500`. An inner service error is recorded as `500`.
    ///
    /// ```
    /// use promenade_tower::{HttpMetricsLayer, ResponseFuture};
    /// use tower::{Layer, Service, ServiceExt, service_fn};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let registry = promenade_core::Registry::new();
    /// let layer = HttpMetricsLayer::builder(&registry).build().unwrap();
    /// let mut svc = layer.layer(service_fn(|_req: http::Request<String>| async {
    ///     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
    /// }));
    /// let fut: ResponseFuture<_> = svc.ready().await.unwrap().call(http::Request::new(String::new()));
    /// drop(fut); // cancelled before answering
    /// let text = registry.encode_to_string(promenade_core::Format::Text).unwrap();
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="499"} 1"#));
    /// # });
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<Box<Tracked>>,
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("tracked", &self.tracker.is_some())
            .finish_non_exhaustive()
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, tracker: Option<Box<Tracked>>) -> Self {
        Self { inner, tracker }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(t) = this.tracker.as_mut() {
            t.in_poll = true;
        }
        let result = this.inner.poll(cx);
        // Not reached when the inner future panics: `in_poll` stays set.
        if let Some(t) = this.tracker.as_mut() {
            t.in_poll = false;
        }
        let result = ready!(result);
        let mut tracker = this.tracker.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(t) = tracker.as_mut() {
                    t.tracker.response_head(response.status().as_u16());
                    if t.tracker.reads_response() {
                        t.tracker.response_labels(
                            response.headers(),
                            ExtensionsRef::from(response.extensions()),
                        );
                    }
                }
                Ok(response.map(|body| ResponseBody::new(body, tracker)))
            }
            Err(e) => {
                // No response: the server will answer 500 or drop the connection.
                if let Some(mut t) = tracker {
                    t.tracker.response_head(500);
                }
                Err(e)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    /// What axum moves with every response: the future and the body add one pointer to
    /// what they wrap, whatever the tracker's size (it travels boxed).
    #[test]
    fn future_and_body_stay_small() {
        let future = std::mem::size_of::<super::ResponseFuture<std::future::Pending<()>>>();
        let body = std::mem::size_of::<crate::body::ResponseBody<()>>();
        assert_eq!(future, std::mem::size_of::<usize>());
        assert_eq!(body, std::mem::size_of::<usize>());
    }
}
