//! The body wrappers: [`MsgCountingBody`] counts gRPC messages from the length-prefixed
//! frames; [`CallBody`] wraps one around a response and ends the call with the status of
//! its trailers. The counting is written once, in `MsgCountingBody`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use promenade_core::grpc_metrics::{FrameCounter, GrpcCode, MsgCounter};

use crate::call::{CallState, guarded, status_of, transport_error_code};

pin_project! {
    /// A body whose gRPC messages are counted as they are read: the request body on both
    /// sides (inside tonic's body on the client), and the response body inside a
    /// [`CallBody`]. Non-gRPC requests pass through uncounted.
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
        // When this direction's messages are timed: where the current message's wait
        // began (the previous message's completion, or the first poll).
        timing: Option<Option<Instant>>,
    }
}

impl<B> MsgCountingBody<B> {
    pub(crate) fn new(inner: B, counter: Option<MsgCounter>) -> Self {
        // The clock is read only when the client's per-message histograms apply.
        let timing = counter
            .as_ref()
            .is_some_and(MsgCounter::times_msgs)
            .then_some(None);
        Self {
            inner,
            counter: counter.map(|c| (c, FrameCounter::default())),
            timing,
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

    /// Counts no further message: the call they belong to has ended.
    fn stop_counting(self: Pin<&mut Self>) {
        *self.project().counter = None;
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
        if let Some(since @ None) = this.timing.as_mut() {
            *since = Some(Instant::now());
        }
        let frame = ready!(this.inner.poll_frame(cx));
        if let (Some(Ok(frame)), Some((counter, frames))) = (&frame, this.counter.as_mut())
            && let Some(data) = frame.data_ref()
        {
            let n = frames.push(data);
            counter.add(n);
            if n > 0
                && let Some(Some(since)) = this.timing.as_mut()
            {
                let now = Instant::now();
                counter.observe_msg_seconds(now.duration_since(*since).as_secs_f64());
                // Messages completed by the same chunk waited for nothing more.
                for _ in 1..n {
                    counter.observe_msg_seconds(0.0);
                }
                *since = now;
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

/// A response (server side) or the response body of a call (client side) that counts
/// messages, reads `grpc-status` from the trailers and ends the call at the end of the
/// stream — or as `Canceled` when it is dropped before the status was seen. On the server
/// side, a panic while the handler's response stream is polled ends the call as
/// `Internal` instead.
///
/// The wrapped body and the call's state travel in one allocation per call, so the
/// response is one pointer bigger than its body: `Response<CallBody<Body>>` is no larger
/// than tonic's `Response<Body>`, and moves between tonic, hyper and the caller stay
/// inline copies (the state inline made it 272 bytes, each move a `memcpy` call; ~60 ns a
/// call, see BENCHMARKS.md).
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
    state: Pin<Box<CallBodyState<B>>>,
}

pin_project! {
    /// What a [`CallBody`] keeps behind its pointer.
    struct CallBodyState<B> {
        #[pin]
        inner: MsgCountingBody<B>,
        call: Option<CallState>,
    }
}

impl<B> CallBody<B> {
    /// Wraps `inner`, counting its messages into `call` (if tracked) until the call ends.
    pub(crate) fn new(inner: B, call: Option<CallState>) -> Self {
        let counter = call.as_ref().map(CallState::response_counter);
        Self {
            state: Box::pin(CallBodyState {
                inner: MsgCountingBody::new(inner, counter),
                call,
            }),
        }
    }
}

impl<B> Body for CallBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        self.state.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.state.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.state.size_hint()
    }
}

impl<B> std::fmt::Debug for CallBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallBody")
            .field("tracking", &self.state.call.is_some())
            .finish_non_exhaustive()
    }
}

impl<B> Body for CallBodyState<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let inner = this.inner.as_mut();
        let frame = ready!(guarded(
            this.call.as_mut().and_then(CallState::panic_tracker),
            || inner.poll_frame(cx)
        ));
        let Some(state) = this.call.as_ref() else {
            return Poll::Ready(frame);
        };
        let code = match &frame {
            Some(Ok(f)) => match f.trailers_ref() {
                // Trailers are the last frame: the call ends here.
                Some(trailers) => status_of(trailers).or(state.tracker.code()),
                // A data frame: the inner body counted its messages.
                None => return Poll::Ready(frame),
            }
            .unwrap_or(GrpcCode::Unknown),
            Some(Err(_)) => state
                .tracker
                .code()
                .unwrap_or(transport_error_code(state.side)),
            // No trailers: the status came in the headers (trailers-only) or never.
            None => state.tracker.code().unwrap_or(GrpcCode::Unknown),
        };
        if let Some(state) = this.call.take() {
            state.tracker.finish(code);
        }
        this.inner.stop_counting();
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    /// What tonic, hyper and the caller move with every response: no bigger than tonic's own
    /// response, so the moves stay inline copies.
    #[test]
    fn response_stays_as_small_as_tonics() {
        use std::mem::size_of;
        type Ours = http::Response<super::CallBody<tonic::body::Body>>;
        type Tonics = http::Response<tonic::body::Body>;
        assert!(
            size_of::<Ours>() <= size_of::<Tonics>(),
            "Response<CallBody<Body>> is {} bytes, Response<Body> {}",
            size_of::<Ours>(),
            size_of::<Tonics>()
        );
    }
}
