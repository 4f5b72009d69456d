//! The body wrappers: [`MsgCountingBody`] counts a request's gRPC messages from the
//! length-prefixed frames; [`CallBody`] counts a response's the same way and ends the call
//! with the status of its trailers. The counting is written once, in `Counting`.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use promenade_core::clock::Instant;
use promenade_core::grpc_metrics::{CallTracker, FrameCounter, GrpcCode, MsgCounter};

use crate::call::{CallState, guarded, status_of, transport_error_code};

/// Where counted messages go: a call's handle (the request body, polled apart from the
/// call) or the call's tracker itself (the response body, which carries it).
trait MsgSink {
    fn add(&self, n: u64);
    fn observe(&self, seconds: f64);
}

impl MsgSink for MsgCounter {
    #[inline]
    fn add(&self, n: u64) {
        MsgCounter::add(self, n);
    }

    fn observe(&self, seconds: f64) {
        self.observe_msg_seconds(seconds);
    }
}

/// One direction of the call whose tracker the response body holds.
struct TrackerSink<'a> {
    tracker: &'a CallTracker,
    received: bool,
}

impl MsgSink for TrackerSink<'_> {
    #[inline]
    fn add(&self, n: u64) {
        self.tracker.add_msgs(self.received, n);
    }

    fn observe(&self, seconds: f64) {
        self.tracker.observe_msg_seconds(self.received, seconds);
    }
}

/// How one direction's messages are counted as its frames pass, for both wrappers: where
/// the gRPC length prefixes fall, and, when the messages are timed (the client's
/// per-message histograms), where the current message's wait began.
struct Counting {
    frames: FrameCounter,
    // `Some` when timed: the start of the current wait (the previous message's completion,
    // or the first poll).
    timing: Option<Option<Instant>>,
}

impl Counting {
    fn new(timed: bool) -> Self {
        Self {
            frames: FrameCounter::default(),
            timing: timed.then_some(None),
        }
    }

    /// The inner body is about to be polled: a timed wait starts at the first poll.
    #[inline]
    fn polling(&mut self) {
        if let Some(since @ None) = self.timing.as_mut() {
            *since = Some(Instant::now());
        }
    }

    /// A data chunk arrived: counts (and times) the messages it completes.
    #[inline]
    fn data(&mut self, data: &Bytes, sink: &impl MsgSink) {
        let n = self.frames.push(data);
        if n == 0 {
            return;
        }
        sink.add(n);
        if let Some(Some(since)) = self.timing.as_mut() {
            let now = Instant::now();
            sink.observe(now.duration_since(*since).as_secs_f64());
            // Messages completed by the same chunk waited for nothing more.
            for _ in 1..n {
                sink.observe(0.0);
            }
            *since = now;
        }
    }
}

pin_project! {
    /// A body whose gRPC messages are counted as they are read: the request body on both
    /// sides (inside tonic's body on the client). Non-gRPC requests pass through uncounted.
    ///
    /// ```
    /// use promenade_tonic::MsgCountingBody;
    /// let body = MsgCountingBody::passthrough(http_body_util::Full::new(bytes::Bytes::from_static(b"x")));
    /// assert!(!http_body::Body::is_end_stream(&body));
    /// ```
    pub struct MsgCountingBody<B> {
        #[pin]
        inner: B,
        counter: Option<(MsgCounter, Counting)>,
    }
}

impl<B> MsgCountingBody<B> {
    pub(crate) fn new(inner: B, counter: Option<MsgCounter>) -> Self {
        Self {
            inner,
            // The clock is read only when the client's per-message histograms apply.
            counter: counter.map(|c| {
                let timed = c.times_msgs();
                (c, Counting::new(timed))
            }),
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
        if let Some((_, counting)) = this.counter.as_mut() {
            counting.polling();
        }
        let frame = ready!(this.inner.poll_frame(cx));
        if let (Some(Ok(frame)), Some((counter, counting))) = (&frame, this.counter.as_mut())
            && let Some(data) = frame.data_ref()
        {
            counting.data(data, counter);
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
    /// What a [`CallBody`] keeps behind its pointer. The messages are counted through the
    /// call's own tracker, not through a handle of their own: a handle is one more reference
    /// to the method's series, whose count two more locked instructions per call change.
    struct CallBodyState<B> {
        #[pin]
        inner: B,
        counting: Counting,
        call: Option<CallState>,
    }
}

impl<B> CallBody<B> {
    /// Wraps `inner`, counting its messages into `call` (if tracked) until the call ends.
    pub(crate) fn new(inner: B, call: Option<CallState>) -> Self {
        let timed = call
            .as_ref()
            .is_some_and(|c| c.tracker.times_msgs(c.response_received()));
        Self {
            state: Box::pin(CallBodyState {
                inner,
                counting: Counting::new(timed),
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
        let this = self.project();
        if this.call.is_some() {
            this.counting.polling();
        }
        let inner = this.inner;
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
                None => {
                    if let Some(data) = f.data_ref() {
                        let sink = TrackerSink {
                            tracker: &state.tracker,
                            received: state.response_received(),
                        };
                        this.counting.data(data, &sink);
                    }
                    return Poll::Ready(frame);
                }
            }
            .unwrap_or(GrpcCode::Unknown),
            Some(Err(_)) => state
                .tracker
                .code()
                .unwrap_or(transport_error_code(state.side)),
            // No trailers: the status came in the headers (trailers-only) or never.
            None => state.tracker.code().unwrap_or(GrpcCode::Unknown),
        };
        // Ended: later frames, if any, are not counted.
        if let Some(state) = this.call.take() {
            state.tracker.finish(code);
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
