//! The pieces of one instrumented call that the server and the client side share: the two
//! sides ([`CallSide`], [`ServerSide`], [`ClientSide`]) and what tells them apart, telling
//! gRPC requests from the rest, starting the tracker, the state a response body carries to
//! the end of the stream, and the guard that notices a handler's panic.

use http::{HeaderMap, Request, Response};
use promenade_core::grpc_metrics::{
    CallTracker, ExtensionsRef, GrpcCode, GrpcMetrics, HeaderLookup, MsgCounter, Side,
};

/// The side of the calls a [`GrpcMetricsLayer`](crate::GrpcMetricsLayer) records:
/// [`ServerSide`] or [`ClientSide`], and no other (the trait is sealed). It is what makes
/// [`GrpcServerLayer`](crate::GrpcServerLayer) and [`GrpcClientLayer`](crate::GrpcClientLayer)
/// two types from one implementation.
///
/// ```
/// use promenade_tonic::{CallSide, ClientSide, ServerSide, Side};
/// fn side<K: CallSide>() -> Side { K::SIDE }
/// assert_eq!(side::<ServerSide>(), Side::Server);
/// assert_eq!(side::<ClientSide>(), Side::Client);
/// ```
pub trait CallSide: sealed::Sealed {
    /// The side in the core's terms. It decides which body's messages are sent and which
    /// received, whether a panic below the layer is the handler's (`Internal`), and the code
    /// of a failed transport.
    ///
    /// ```
    /// use promenade_tonic::{CallSide as _, ServerSide, Side};
    /// assert_eq!(ServerSide::SIDE, Side::Server);
    /// ```
    const SIDE: Side;
}

/// The server side of a call: the marker of [`GrpcServerLayer`](crate::GrpcServerLayer) and
/// [`GrpcServerService`](crate::GrpcServerService). The request body's messages are received
/// ones, the response's sent ones; a handler that panics ends the call as `Internal`, an
/// error from the inner service as `Unknown`.
///
/// ```
/// use promenade_tonic::{CallSide as _, ServerSide, Side};
/// assert_eq!(ServerSide::SIDE, Side::Server);
/// ```
#[derive(Debug, Clone, Copy)]
pub enum ServerSide {}

/// The client side of a call: the marker of [`GrpcClientLayer`](crate::GrpcClientLayer) and
/// [`GrpcClientService`](crate::GrpcClientService). The request body's messages are sent
/// ones, the response's received ones; a transport error from the channel ends the call as
/// `Unavailable`; panics are left to the caller.
///
/// ```
/// use promenade_tonic::{CallSide as _, ClientSide, Side};
/// assert_eq!(ClientSide::SIDE, Side::Client);
/// ```
#[derive(Debug, Clone, Copy)]
pub enum ClientSide {}

impl CallSide for ServerSide {
    const SIDE: Side = Side::Server;
}

impl CallSide for ClientSide {
    const SIDE: Side = Side::Client;
}

impl sealed::Sealed for ServerSide {}
impl sealed::Sealed for ClientSide {}

/// What only the crate may know of a side, and what seals [`CallSide`]: no type outside the
/// crate can be a side, so the two sides stay the only ones the service must handle.
pub(crate) mod sealed {
    use promenade_core::grpc_metrics::MsgCounter;

    /// Implemented by the two sides only.
    pub trait Sealed {}

    /// How a side hands the request body to the service it wraps: the server passes the
    /// counting body on as it is; the client boxes it into the body tonic's channel takes.
    pub trait WrapRequest<B>: super::CallSide {
        /// The request body the inner service gets.
        type Body;
        /// Wraps `body`, counting its messages into `counter` when the call is tracked.
        fn wrap_request(body: B, counter: Option<MsgCounter>) -> Self::Body;
    }
}

/// Whether a request is gRPC (`content-type: application/grpc`, `application/grpc+proto`,
/// …). Anything else — a `/metrics` scrape on the same port, grpc-web — passes through
/// uninstrumented.
fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().strip_prefix(b"application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

/// Starts tracking a gRPC call: `started` now, with the request labels from the
/// application read from the request's metadata and extensions as this layer sees them, and
/// a sampled W3C `traceparent` in the metadata becomes the handling-seconds exemplar. `None`
/// for a request that is not gRPC.
pub(crate) fn start_call<B>(metrics: &GrpcMetrics, req: &Request<B>) -> Option<CallTracker> {
    if !is_grpc(req) {
        return None;
    }
    let mut tracker = metrics.start_request(
        req.uri().path(),
        req.headers(),
        ExtensionsRef::from(req.extensions()),
    );
    // Through the core's header lookup, which finds `traceparent` by a constant name.
    if let Some(tp) = HeaderLookup::header(req.headers(), "traceparent") {
        tracker.set_traceparent(tp);
    }
    Some(tracker)
}

/// The counter of the request body's messages: received on the server, sent by the client.
pub(crate) fn request_counter(tracker: &CallTracker, side: Side) -> MsgCounter {
    match side {
        Side::Server => tracker.received_counter(),
        Side::Client => tracker.sent_counter(),
    }
}

/// The code of a call that fails without a status (the inner service or the response body
/// returns an error): `Unknown` on the server; `Unavailable` on the client, whose errors are
/// the channel's, as grpc-go's client reports a broken connection.
pub(crate) fn transport_error_code(side: Side) -> GrpcCode {
    match side {
        Side::Server => GrpcCode::Unknown,
        Side::Client => GrpcCode::Unavailable,
    }
}

/// Whether a panic while the wrapped future or body is polled is the handler's, to record
/// as `Internal`. Only on the server: below the client layer, a panic is the caller's own and
/// reaches it.
pub(crate) fn panic_is_internal(side: Side) -> bool {
    side == Side::Server
}

/// The call state a [`CallBody`](crate::CallBody) carries until the end of the stream.
pub(crate) struct CallState {
    pub(crate) tracker: CallTracker,
    pub(crate) side: Side,
}

impl CallState {
    /// Whether the response body's messages are received ones (client side) or sent ones
    /// (server side).
    pub(crate) fn response_received(&self) -> bool {
        self.side == Side::Client
    }

    /// The tracker to mark `Internal` if the inner poll panics, when that is the handler's.
    pub(crate) fn panic_tracker(&mut self) -> Option<&mut CallTracker> {
        panic_is_internal(self.side).then_some(&mut self.tracker)
    }
}

/// Runs the inner `poll` with a [`PanicGuard`] armed for `tracker` (`None`: nothing to mark).
#[inline]
pub(crate) fn guarded<T>(tracker: Option<&mut CallTracker>, poll: impl FnOnce() -> T) -> T {
    let guard = PanicGuard { tracker };
    let out = poll();
    guard.disarm();
    out
}

/// Marks a server call `Internal` when the handler panics inside the poll it wraps.
///
/// Created on the stack around the inner `poll`/`poll_frame` and disarmed when that returns,
/// so its `Drop` only runs armed while a panic unwinds out of the handler: the code is set
/// before the executor drops the call, whether it drops it during the unwind (tokio) or
/// after catching the panic. A call dropped without a panic stays `Canceled`, and a call
/// dropped during some other unwind is not mistaken for a panicked one. No `catch_unwind`:
/// the normal path costs an `Option` check.
struct PanicGuard<'a> {
    tracker: Option<&'a mut CallTracker>,
}

impl PanicGuard<'_> {
    /// The inner poll returned: no panic to record.
    #[inline]
    fn disarm(mut self) {
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

static GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");

/// Whether a response head is tonic's answer to a path it does not route, which keeps a
/// server call whose route is pending on the `unknown` labels. tonic 0.14 answers an
/// unknown service (the `Routes` fallback, `Status::unimplemented("")`) and an unknown
/// method of a known service (the fallback arm of every generated server) alike: a
/// trailers-only response, HTTP 200, `grpc-status: 12` and no `grpc-message`. A handler
/// that returns `Unimplemented` with a message is routed. A head without `grpc-status` and
/// with an HTTP status other than 200 comes from no tonic handler either (an HTTP router's
/// 404, for one), so it is a miss as well: erring that way only loses a label, never adds
/// series.
pub(crate) fn is_route_miss<B>(response: &Response<B>) -> bool {
    let headers = response.headers();
    match headers.get(&GRPC_STATUS) {
        Some(status) => {
            status.as_bytes() == b"12" && headers.get(&GRPC_MESSAGE).is_none_or(|m| m.is_empty())
        }
        None => response.status() != http::StatusCode::OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&'static str, &'static str)]) -> Response<()> {
        let mut r = Response::builder().status(status);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.body(()).expect("valid test response")
    }

    #[test]
    fn route_misses_are_told_from_answers() {
        // What tonic's Routes fallback sends, taken from tonic itself.
        let (parts, ()) = tonic::Status::unimplemented("")
            .into_http::<()>()
            .into_parts();
        assert!(is_route_miss(&Response::from_parts(parts, ())));
        assert!(is_route_miss(&head(200, &[("grpc-status", "12")])));
        assert!(is_route_miss(&head(
            200,
            &[("grpc-status", "12"), ("grpc-message", "")]
        )));
        assert!(is_route_miss(&head(404, &[])));
        // A handler's own Unimplemented carries a message: routed.
        let (parts, ()) = tonic::Status::unimplemented("Not yet implemented")
            .into_http::<()>()
            .into_parts();
        assert!(!is_route_miss(&Response::from_parts(parts, ())));
        // Any other status, or a head whose status comes later in the trailers: routed.
        assert!(!is_route_miss(&head(200, &[("grpc-status", "5")])));
        assert!(!is_route_miss(&head(200, &[("grpc-status", "0")])));
        assert!(!is_route_miss(&head(
            200,
            &[("content-type", "application/grpc")]
        )));
    }
}
