//! The response future of the server and client services: it reads the status a response
//! head may carry and hands the call on to the [`CallBody`] that ends it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;
use promenade_core::grpc_metrics::{CallTracker, ExtensionsRef, GrpcCode, Side};

use crate::body::CallBody;
use crate::call::{
    CallState, guarded, is_route_miss, panic_is_internal, status_of, transport_error_code,
};

pin_project! {
    /// The response future of the server and client services: turns the response into a
    /// [`CallBody`] that ends the call; dropping it first records `Canceled` — or, on the
    /// server side, `Internal` when the handler panicked while it was polled.
    ///
    /// ```
    /// use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, Side}};
    /// use tower_service::Service as _;
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    /// let mut svc = promenade_tonic::GrpcServerService::new(tonic::service::Routes::default(), m);
    /// let req = http::Request::builder().uri("/x.Y/Z").header("content-type", "application/grpc")
    ///     .body(tonic::body::Body::empty()).unwrap();
    /// drop(svc.call(req)); // never polled: the call counts as Canceled
    /// assert!(r.encode_to_string(Format::Text).unwrap().contains(r#"grpc_code="Canceled"} 1"#));
    /// ```
    pub struct CallFuture<F> {
        #[pin]
        inner: F,
        tracker: Option<CallTracker>,
        side: Side,
    }
}

impl<F> CallFuture<F> {
    pub(crate) fn new(inner: F, tracker: Option<CallTracker>, side: Side) -> Self {
        Self {
            inner,
            tracker,
            side,
        }
    }
}

impl<F> std::fmt::Debug for CallFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallFuture")
            .field("tracker", &self.tracker)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for CallFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<CallBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let side = *this.side;
        let inner = this.inner;
        let result = ready!(guarded(
            this.tracker.as_mut().filter(|_| panic_is_internal(side)),
            || inner.poll(cx)
        ));
        let Some(mut tracker) = this.tracker.take() else {
            return Poll::Ready(result.map(|r| r.map(|b| CallBody::new(b, None))));
        };
        match result {
            Ok(response) => {
                // The head shows whether the server routes the path of a call still waiting
                // to know its labels.
                if tracker.is_route_pending() {
                    tracker.resolve_route(!is_route_miss(&response));
                }
                // Response labels from the application: initial metadata and extensions.
                tracker.response_labels(
                    response.headers(),
                    ExtensionsRef::from(response.extensions()),
                );
                if let Some(c) = status_of(response.headers()) {
                    tracker.set_code(c);
                } else if response.status() != http::StatusCode::OK {
                    tracker.set_code(GrpcCode::from_http_status(response.status().as_u16()));
                }
                let state = CallState { tracker, side };
                Poll::Ready(Ok(response.map(|b| CallBody::new(b, Some(state)))))
            }
            Err(e) => {
                tracker.finish(transport_error_code(side));
                Poll::Ready(Err(e))
            }
        }
    }
}
