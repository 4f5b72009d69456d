//! The response body wrapper that ends a request's measurement.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use promenade_core::http_metrics::RequestTracker;

/// A request being measured. Dropping it records the request (core's [`RequestTracker`]).
///
/// A panic in the inner service is recorded as `500`, not as a client disconnect (`499`):
/// either the tracker is dropped while the thread unwinds, or (when a `CatchPanic` layer
/// outside caught the panic and drops the future later) the inner poll never returned,
/// which `in_poll` remembers.
///
/// It travels boxed, from the service call through the response future into the response
/// body: axum moves the future and the response several times (and boxes both), and a
/// tracker held by value made every move copy it, costing more `memcpy` than the box's
/// allocation.
pub(crate) struct Tracked {
    pub(crate) tracker: RequestTracker,
    pub(crate) in_poll: bool,
}

impl Tracked {
    pub(crate) fn new(tracker: RequestTracker) -> Box<Self> {
        Box::new(Self {
            tracker,
            in_poll: false,
        })
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.tracker.status().is_none() && (self.in_poll || std::thread::panicking()) {
            self.tracker.response_head(500);
        }
    }
}

pin_project! {
    /// Response body of [`HttpMetricsService`](crate::HttpMetricsService): forwards every
    /// frame unchanged, counts data bytes, and records the request when the body ends, fails
    /// for good or is dropped (so streaming responses are timed to their last byte). A
    /// client that goes away in the middle of the body leaves the request with the status
    /// of the head that was already sent.
    ///
    /// ```
    /// use http_body_util::{BodyExt, Full};
    /// use promenade_tower::ResponseBody;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// // Normally created by the layer; untracked bodies just pass data through.
    /// let body = ResponseBody::untracked(Full::new(bytes::Bytes::from_static(b"hi")));
    /// assert_eq!(body.collect().await.unwrap().to_bytes(), "hi");
    /// # });
    /// ```
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        tracker: Option<Box<Tracked>>,
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("tracked", &self.tracker.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, tracker: Option<Box<Tracked>>) -> Self {
        Self { inner, tracker }
    }

    /// Wraps `inner` without measuring anything (what excluded paths get).
    ///
    /// ```
    /// let body = promenade_tower::ResponseBody::untracked(http_body_util::Empty::<bytes::Bytes>::new());
    /// # let _ = body;
    /// ```
    pub fn untracked(inner: B) -> Self {
        Self {
            inner,
            tracker: None,
        }
    }

    /// The wrapped body.
    ///
    /// ```
    /// let body = promenade_tower::ResponseBody::untracked("text");
    /// assert_eq!(*body.get_ref(), "text");
    /// ```
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let mut inner = this.inner;
        // The inner poll is returned as it is, never moved out and rebuilt: a frame is
        // about 100 bytes, and every rebuild copied it.
        let poll = inner.as_mut().poll_frame(cx);
        let Some(t) = this.tracker.as_mut() else {
            return poll;
        };
        match &poll {
            Poll::Ready(Some(Ok(f))) => {
                if let Some(data) = f.data_ref() {
                    t.tracker.add_response_bytes(data.remaining() as u64);
                }
                if inner.is_end_stream() {
                    // Record now: the server may not poll again after the last frame.
                    drop(this.tracker.take());
                }
            }
            // An error ends the response for good; keep the status of the head that was sent.
            Poll::Ready(Some(Err(_)) | None) => drop(this.tracker.take()),
            Poll::Pending => {}
        }
        poll
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
