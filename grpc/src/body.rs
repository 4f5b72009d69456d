//! Body wrappers that count gRPC messages from the length-prefixed frames and read the
//! status from the trailers.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use promenade_core::grpc_metrics::{CallTracker, FrameCounter, GrpcCode, MsgCounter};

pin_project! {
    /// A request (server side) or response (client side) body whose gRPC messages are
    /// counted as they are read. Non-gRPC requests pass through uncounted.
    ///
    /// ```
    /// use promenade_tonic::MsgCountingBody;
    /// let body = MsgCountingBody::passthrough(http_body_util::Full::new(bytes::Bytes::from_static(b"x")));
    /// assert!(!http_body::Body::is_end_stream(&body));
    /// ```
    pub struct MsgCountingBody<B> {
        #[pin]
        inner: B,
        counter: Option<(MsgCounter, FrameCounter)>,
    }
}

impl<B> MsgCountingBody<B> {
    pub(crate) fn new(inner: B, counter: Option<MsgCounter>) -> Self {
        Self {
            inner,
            counter: counter.map(|c| (c, FrameCounter::default())),
        }
    }

    /// A body that counts nothing.
    ///
    /// ```
    /// let b = promenade_tonic::MsgCountingBody::passthrough(http_body_util::Empty::<bytes::Bytes>::new());
    /// assert!(http_body::Body::is_end_stream(&b));
    /// ```
    pub fn passthrough(inner: B) -> Self {
        Self::new(inner, None)
    }
}

impl<B> std::fmt::Debug for MsgCountingBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgCountingBody")
            .field("counting", &self.counter.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> Body for MsgCountingBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let (Some(Ok(frame)), Some((counter, frames))) = (&frame, this.counter.as_mut())
            && let Some(data) = frame.data_ref()
        {
            counter.add(frames.push(data));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The call state a [`CallBody`] carries until the end of the stream.
pub(crate) struct CallState {
    pub(crate) tracker: CallTracker,
    /// Whether the body's messages are received ones (client side) or sent (server side).
    pub(crate) received: bool,
    /// Server side: a panic while polling the inner body is the handler's (its response
    /// stream), so it ends the call as `Internal`. The client side leaves panics alone.
    pub(crate) panic_is_internal: bool,
    pub(crate) frames: FrameCounter,
}

/// Marks a server call `Internal` when the handler panics inside the poll it wraps.
///
/// Created on the stack around the inner `poll`/`poll_frame` and disarmed when that returns,
/// so its `Drop` only runs armed while a panic unwinds out of the handler: the code is set
/// before the executor drops the call, whether it drops it during the unwind (tokio) or
/// after catching the panic. A call dropped without a panic stays `Canceled`, and a call
/// dropped during some other unwind is not mistaken for a panicked one. No `catch_unwind`:
/// the normal path costs an `Option` check.
pub(crate) struct PanicGuard<'a> {
    tracker: Option<&'a mut CallTracker>,
}

impl<'a> PanicGuard<'a> {
    /// Arms the guard for `tracker`; `None` (client side, untracked call) makes it inert.
    #[inline]
    pub(crate) fn new(tracker: Option<&'a mut CallTracker>) -> Self {
        Self { tracker }
    }

    /// The inner poll returned: no panic to record.
    #[inline]
    pub(crate) fn disarm(mut self) {
        self.tracker = None;
    }
}

impl Drop for PanicGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(tracker) = self.tracker.as_deref_mut()
            && std::thread::panicking()
        {
            // As go-grpc-middleware's recovery interceptor answers a recovered panic.
            tracker.set_code(GrpcCode::Internal);
        }
    }
}

static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

/// The `grpc-status` of a header or trailer map.
#[inline]
pub(crate) fn status_of(headers: &HeaderMap) -> Option<GrpcCode> {
    headers
        .get(&GRPC_STATUS)
        .map(|v| GrpcCode::from_grpc_status(v.as_bytes()))
}

pin_project! {
    /// A response (server side) or the response body of a call (client side) that counts
    /// messages, reads `grpc-status` from the trailers and ends the call at the end of the
    /// stream — or as `Canceled` when it is dropped before the status was seen. On the server
    /// side, a panic while the handler's response stream is polled ends the call as
    /// `Internal` instead.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// use tower_service::Service as _;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// // Any service; here tonic's empty `Routes`, which answers every call `Unimplemented`.
    /// let mut svc = promenade_tonic::GrpcServerService::new(tonic::service::Routes::default(), m);
    /// let req = http::Request::new(tonic::body::Body::empty());
    /// let resp = svc.call(req).await.unwrap(); // a CallFuture yielding a CallBody
    /// let _body: &promenade_tonic::CallBody<_> = resp.body();
    /// # }
    /// ```
    pub struct CallBody<B> {
        #[pin]
        inner: B,
        call: Option<CallState>,
        error_code: GrpcCode,
    }
}

impl<B> CallBody<B> {
    pub(crate) fn new(inner: B, call: Option<CallState>, error_code: GrpcCode) -> Self {
        Self {
            inner,
            call,
            error_code,
        }
    }
}

impl<B> std::fmt::Debug for CallBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallBody")
            .field("tracking", &self.call.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> Body for CallBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let guard = PanicGuard::new(
            this.call
                .as_mut()
                .filter(|s| s.panic_is_internal)
                .map(|s| &mut s.tracker),
        );
        let poll = this.inner.poll_frame(cx);
        guard.disarm();
        let frame = ready!(poll);
        let Some(state) = this.call.as_mut() else {
            return Poll::Ready(frame);
        };
        match &frame {
            Some(Ok(f)) => {
                if let Some(data) = f.data_ref() {
                    let n = state.frames.push(data);
                    state.tracker.add_msgs(state.received, n);
                } else if let Some(trailers) = f.trailers_ref() {
                    // Trailers are the last frame: the call ends here.
                    let status = status_of(trailers);
                    if let Some(mut state) = this.call.take() {
                        let c = status.or(state.tracker.code()).unwrap_or(GrpcCode::Unknown);
                        state.tracker.set_code(c);
                    }
                }
            }
            Some(Err(_)) => {
                if let Some(mut state) = this.call.take() {
                    let c = state.tracker.code().unwrap_or(*this.error_code);
                    state.tracker.set_code(c);
                }
            }
            None => {
                if let Some(mut state) = this.call.take() {
                    // No trailers: the status came in the headers (trailers-only) or never.
                    let c = state.tracker.code().unwrap_or(GrpcCode::Unknown);
                    state.tracker.set_code(c);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
