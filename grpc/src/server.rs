//! The server layer: `tonic::transport::Server::builder().layer(GrpcServerLayer::new(..))`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use promenade_core::grpc_metrics::{CallTracker, FrameCounter, GrpcCode, GrpcMetrics};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{CallBody, CallState, MsgCountingBody, PanicGuard, status_of};

/// Whether a request is gRPC (`content-type: application/grpc`, `application/grpc+proto`,
/// …). Anything else — a `/metrics` scrape on the same port, grpc-web — passes through
/// uninstrumented.
pub(crate) fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.as_bytes().strip_prefix(b"application/grpc"))
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'+' || rest[0] == b';')
}

/// Starts tracking a gRPC call: `started` now, and a sampled W3C `traceparent` in the
/// metadata becomes the handling-seconds exemplar.
pub(crate) fn start_call<B>(
    metrics: &promenade_core::grpc_metrics::GrpcMetrics,
    req: &Request<B>,
) -> promenade_core::grpc_metrics::CallTracker {
    let mut tracker = metrics.start(req.uri().path());
    if let Some(tp) = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        tracker.set_traceparent(tp);
    }
    tracker
}

/// A tower layer recording the `grpc_server_*` metrics of every gRPC call through a tonic
/// server (or any tower HTTP service serving gRPC).
///
/// - `started` when the request arrives; `msg_received` from the request body's frames;
///   `msg_sent` from the response body's frames (compressed frames count too);
/// - `handled{grpc_code}` and `handling_seconds` at the end of the response stream, with the
///   status from the response headers (trailers-only responses) or the trailers (everything
///   else, errors raised mid-stream included); a response dropped before its status (client
///   cancelled, connection lost) is `Canceled`; an error from the inner service is `Unknown`;
/// - a handler that panics — while producing its response, or mid-stream while its response
///   stream is polled — is `Internal` on `handled` (and on the histogram when that carries
///   the code), as go-grpc-middleware's recovery interceptor answers a recovered panic with
///   `codes.Internal`, never `Canceled`, which error-rate dashboards usually leave out. The
///   layer does not catch the panic: it only records it, and the panic goes on to the
///   executor (tonic and hyper do not recover handler panics; the client sees its stream
///   reset). Detection costs no `catch_unwind`: a guard on the stack of each poll sees the
///   unwind. (A panic in a task the handler spawned never passes through the layer: the call
///   ends as that task's channel does.)
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::{GrpcMetricsBuilderExt as _, GrpcServerLayer};
///
/// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Server)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET).unwrap() // your protos' encoded FileDescriptorSet
///     .build().unwrap();
/// let router = tonic::transport::Server::builder()
///     .layer(GrpcServerLayer::new(metrics))
///     // .add_service(GreeterServer::new(MyGreeter)) for each of your services
///     .add_routes(tonic::service::Routes::default());
/// // router.serve(addr).await
/// # drop(router);
/// ```
#[derive(Debug, Clone)]
pub struct GrpcServerLayer {
    metrics: GrpcMetrics,
}

impl GrpcServerLayer {
    /// A layer recording into `metrics` (built with `Side::Server`).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let layer = promenade_tonic::GrpcServerLayer::new(m);
    /// assert_eq!(layer.metrics().side(), Side::Server);
    /// ```
    pub fn new(metrics: GrpcMetrics) -> Self {
        Self { metrics }
    }

    /// The metrics this layer records into.
    ///
    /// ```
    /// # use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// # let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let layer = promenade_tonic::GrpcServerLayer::new(m);
    /// let _ = layer.metrics().method_count();
    /// ```
    pub fn metrics(&self) -> &GrpcMetrics {
        &self.metrics
    }
}

impl<S> Layer<S> for GrpcServerLayer {
    type Service = GrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcServerService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service made by [`GrpcServerLayer`] (or [`GrpcServerService::new`]).
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use tower_layer::Layer as _;
/// let metrics = GrpcMetrics::builder(&Registry::new(), Side::Server).build().unwrap();
/// // Any tonic service, e.g. `GreeterServer::new(MyGreeter)`; here tonic's empty `Routes`.
/// let service = promenade_tonic::GrpcServerLayer::new(metrics).layer(tonic::service::Routes::default());
/// # drop(service);
/// ```
#[derive(Debug, Clone)]
pub struct GrpcServerService<S> {
    inner: S,
    metrics: GrpcMetrics,
}

impl<S> GrpcServerService<S> {
    /// Wraps `inner` directly (without a layer).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let svc = promenade_tonic::GrpcServerService::new(tonic::service::Routes::default(), m);
    /// # drop(svc);
    /// ```
    pub fn new(inner: S, metrics: GrpcMetrics) -> Self {
        Self { inner, metrics }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcServerService<S>
where
    S: Service<Request<MsgCountingBody<ReqBody>>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes>,
    ResBody: http_body::Body<Data = Bytes>,
{
    type Response = Response<CallBody<ResBody>>;
    type Error = S::Error;
    type Future = CallFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if !is_grpc(&req) {
            return CallFuture::new(
                self.inner.call(req.map(MsgCountingBody::passthrough)),
                None,
                false,
            );
        }
        let tracker = start_call(&self.metrics, &req);
        let received = tracker.received_counter();
        let req = req.map(|b| MsgCountingBody::new(b, Some(received)));
        CallFuture::new(self.inner.call(req), Some(tracker), false)
    }
}

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
        client: bool,
    }
}

impl<F> CallFuture<F> {
    pub(crate) fn new(inner: F, tracker: Option<CallTracker>, client: bool) -> Self {
        Self {
            inner,
            tracker,
            client,
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
        let client = *this.client;
        // Server side only: a panic below the client layer is the caller's own, and reaches it.
        let guard = PanicGuard::new(this.tracker.as_mut().filter(|_| !client));
        let poll = this.inner.poll(cx);
        guard.disarm();
        let result = ready!(poll);
        let Some(mut tracker) = this.tracker.take() else {
            return Poll::Ready(
                result.map(|r| r.map(|b| CallBody::new(b, None, GrpcCode::Unknown))),
            );
        };
        match result {
            Ok(response) => {
                if let Some(c) = status_of(response.headers()) {
                    tracker.set_code(c);
                } else if response.status() != http::StatusCode::OK {
                    tracker.set_code(GrpcCode::from_http_status(response.status().as_u16()));
                }
                let state = CallState {
                    tracker,
                    received: client,
                    panic_is_internal: !client,
                    frames: FrameCounter::default(),
                };
                let error_code = if client {
                    GrpcCode::Unavailable
                } else {
                    GrpcCode::Unknown
                };
                Poll::Ready(Ok(
                    response.map(|b| CallBody::new(b, Some(state), error_code))
                ))
            }
            Err(e) => {
                tracker.finish(if client {
                    GrpcCode::Unavailable
                } else {
                    GrpcCode::Unknown
                });
                Poll::Ready(Err(e))
            }
        }
    }
}
