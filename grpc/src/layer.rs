//! The tower layer and service, written once for both sides: [`GrpcMetricsLayer`] and
//! [`GrpcMetricsService`], generic over the [`CallSide`]. The public names of each side
//! ([`GrpcServerLayer`](crate::GrpcServerLayer), [`GrpcClientService`](crate::GrpcClientService),
//! …) are aliases declared, with their documentation, in `server.rs` and `client.rs`.

use std::fmt;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use promenade_core::grpc_metrics::{GrpcMetrics, Side};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::CallBody;
use crate::call::sealed::WrapRequest;
use crate::call::{CallSide, request_counter, start_call};
use crate::future::CallFuture;

/// A tower layer recording the gRPC metrics of side `K` of every call through it; use it by
/// its side's name, [`GrpcServerLayer`](crate::GrpcServerLayer) or
/// [`GrpcClientLayer`](crate::GrpcClientLayer), whose pages say what each records.
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
/// use promenade_tonic::{GrpcMetricsLayer, ServerSide};
/// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
/// let layer: GrpcMetricsLayer<ServerSide> = promenade_tonic::GrpcServerLayer::new(m);
/// assert!(format!("{layer:?}").starts_with("GrpcServerLayer"));
/// ```
#[derive(Clone)]
pub struct GrpcMetricsLayer<K> {
    metrics: GrpcMetrics,
    side: PhantomData<fn() -> K>,
}

impl<K> GrpcMetricsLayer<K> {
    /// A layer recording into `metrics` (built with the layer's side: `Side::Server` for
    /// [`GrpcServerLayer`](crate::GrpcServerLayer), `Side::Client` for
    /// [`GrpcClientLayer`](crate::GrpcClientLayer)).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let server = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let layer = promenade_tonic::GrpcServerLayer::new(server);
    /// assert_eq!(layer.metrics().side(), Side::Server);
    /// let client = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// let layer = promenade_tonic::GrpcClientLayer::new(client);
    /// assert_eq!(layer.metrics().side(), Side::Client);
    /// ```
    pub fn new(metrics: GrpcMetrics) -> Self {
        Self {
            metrics,
            side: PhantomData,
        }
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

/// The public names of a side's layer and service, which `Debug` prints as the two separate
/// types of each did.
fn public_names(side: Side) -> (&'static str, &'static str) {
    match side {
        Side::Server => ("GrpcServerLayer", "GrpcServerService"),
        Side::Client => ("GrpcClientLayer", "GrpcClientService"),
    }
}

impl<K: CallSide> fmt::Debug for GrpcMetricsLayer<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(public_names(K::SIDE).0)
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl<S, K> Layer<S> for GrpcMetricsLayer<K> {
    type Service = GrpcMetricsService<S, K>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService::new(inner, self.metrics.clone())
    }
}

/// The service made by a [`GrpcMetricsLayer`] (or [`GrpcMetricsService::new`]); use it by
/// its side's name, [`GrpcServerService`](crate::GrpcServerService) or
/// [`GrpcClientService`](crate::GrpcClientService).
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::{GrpcMetricsService, ServerSide};
/// let metrics = GrpcMetrics::builder(&Registry::new(), Side::Server).build().unwrap();
/// let service: GrpcMetricsService<_, ServerSide> =
///     GrpcMetricsService::new(tonic::service::Routes::default(), metrics);
/// # drop(service);
/// ```
#[derive(Clone)]
pub struct GrpcMetricsService<S, K> {
    inner: S,
    metrics: GrpcMetrics,
    side: PhantomData<fn() -> K>,
}

impl<S, K> GrpcMetricsService<S, K> {
    /// Wraps `inner` directly, without a layer (and without importing
    /// `tower_layer::Layer`): `GrpcServerService::new(service, metrics)`,
    /// `GrpcClientService::new(channel, metrics)`.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let svc = promenade_tonic::GrpcServerService::new(tonic::service::Routes::default(), m);
    /// # drop(svc);
    /// # async fn demo() {
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy();
    /// let svc = promenade_tonic::GrpcClientService::new(channel, m);
    /// # drop(svc);
    /// # }
    /// ```
    pub fn new(inner: S, metrics: GrpcMetrics) -> Self {
        Self {
            inner,
            metrics,
            side: PhantomData,
        }
    }
}

impl<S: fmt::Debug, K: CallSide> fmt::Debug for GrpcMetricsService<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(public_names(K::SIDE).1)
            .field("inner", &self.inner)
            .field("metrics", &self.metrics)
            .finish()
    }
}

impl<S, K, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcMetricsService<S, K>
where
    K: WrapRequest<ReqBody>,
    S: Service<Request<K::Body>, Response = Response<ResBody>>,
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
        let tracker = start_call(&self.metrics, &req);
        let counter = tracker.as_ref().map(|t| request_counter(t, K::SIDE));
        let req = req.map(|b| K::wrap_request(b, counter));
        CallFuture::new(self.inner.call(req), tracker, K::SIDE)
    }
}
