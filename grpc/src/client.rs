//! The client layer: wraps a tonic `Channel` (or any tower service taking
//! `http::Request<tonic::body::Body>`).

use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use promenade_core::grpc_metrics::GrpcMetrics;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{CallBody, MsgCountingBody};
use crate::server::{CallFuture, is_grpc};

/// A tower layer recording the `grpc_client_*` metrics of every call made through a tonic
/// `Channel`: `started` when the call is sent, `msg_sent` from the request body's frames,
/// `msg_received` from the response body's frames, `handled{grpc_code}` and
/// `handling_seconds` when the response stream ends (status from the response headers or
/// trailers; a response stream the caller drops early is `Canceled`; a transport error
/// from the channel is `Unavailable`).
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::{GrpcClientLayer, GrpcMetricsBuilderExt as _};
/// use tower_layer::Layer as _;
///
/// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Client)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET)? // your protos' encoded FileDescriptorSet
///     .build()?;
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let channel = GrpcClientLayer::new(metrics).layer(channel);
/// // A generated client takes it like a plain channel: `GreeterClient::new(channel)`, which
/// // wraps the generic client:
/// let mut client = tonic::client::Grpc::new(channel);
/// # let _ = &mut client;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GrpcClientLayer {
    metrics: GrpcMetrics,
}

impl GrpcClientLayer {
    /// A layer recording into `metrics` (built with `Side::Client`).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// let layer = promenade_tonic::GrpcClientLayer::new(m);
    /// assert_eq!(layer.metrics().side(), Side::Client);
    /// ```
    pub fn new(metrics: GrpcMetrics) -> Self {
        Self { metrics }
    }

    /// The metrics this layer records into.
    ///
    /// ```
    /// # use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// # let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// let _ = promenade_tonic::GrpcClientLayer::new(m).metrics().method_count();
    /// ```
    pub fn metrics(&self) -> &GrpcMetrics {
        &self.metrics
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcClientService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service made by [`GrpcClientLayer`].
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use tower_layer::Layer as _;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let metrics = GrpcMetrics::builder(&Registry::new(), Side::Client).build().unwrap();
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let service: promenade_tonic::GrpcClientService<_> = promenade_tonic::GrpcClientLayer::new(metrics).layer(channel);
/// # drop(service); }
/// ```
#[derive(Debug, Clone)]
pub struct GrpcClientService<S> {
    inner: S,
    metrics: GrpcMetrics,
}

impl<S> GrpcClientService<S> {
    /// Wraps `inner` directly (without a layer).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// # async fn demo() {
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    /// let svc = promenade_tonic::GrpcClientService::new(channel, m);
    /// # drop(svc);
    /// # }
    /// ```
    pub fn new(inner: S, metrics: GrpcMetrics) -> Self {
        Self { inner, metrics }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcClientService<S>
where
    S: Service<Request<tonic::body::Body>, Response = Response<ResBody>>,
    ReqBody: http_body::Body<Data = Bytes> + Send + 'static,
    ReqBody::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
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
            return CallFuture::new(self.inner.call(req.map(tonic::body::Body::new)), None, true);
        }
        let tracker = crate::server::start_call(&self.metrics, &req);
        let sent = tracker.sent_counter();
        let req = req.map(|b| tonic::body::Body::new(MsgCountingBody::new(b, Some(sent))));
        CallFuture::new(self.inner.call(req), Some(tracker), true)
    }
}
