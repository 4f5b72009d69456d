//! A tonic [`Interceptor`] that counts started calls — all an interceptor can see.

use promenade_core::grpc_metrics::GrpcMetrics;
use tonic::service::Interceptor;
use tonic::{GrpcMethod, Request, Status};

/// Counts `grpc_{server,client}_started_total` from inside a tonic interceptor
/// (`XServer::with_interceptor(svc, ..)` or `XClient::with_interceptor(channel, ..)`).
///
/// **Prefer the layers.** An interceptor runs once, before the call, with the metadata and
/// extensions only: it never sees the response, the status, the trailers or the messages of a
/// stream, so it cannot record `handled`, `msg_*` or `handling_seconds`.
/// [`GrpcServerLayer`](crate::GrpcServerLayer) and [`GrpcClientLayer`](crate::GrpcClientLayer)
/// wrap the whole HTTP exchange and record everything. Do not combine this interceptor with
/// a layer on the same [`GrpcMetrics`]: `started` would be counted twice.
///
/// The method is taken from tonic's [`GrpcMethod`] extension, which generated *clients* set.
/// tonic does not give server interceptors the request path, so unless something before the
/// interceptor inserts a [`GrpcMethod`], server-side calls are counted under the fixed
/// `unknown` labels — or under the method given by [`MetricsInterceptor::with_method`] when
/// a service has a single method.
///
/// ```
/// use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::{GrpcMetricsBuilderExt as _, MetricsInterceptor};
/// use tonic::service::Interceptor as _;
///
/// # // helloworld.Greeter: SayHello (unary) and Chat (bidi streaming).
/// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Client)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET).unwrap()
///     .build().unwrap();
/// let mut interceptor = MetricsInterceptor::new(metrics);
/// let mut request = tonic::Request::new(());
/// // What a generated client sets on each request:
/// request.extensions_mut().insert(tonic::GrpcMethod::new("helloworld.Greeter", "Chat"));
/// interceptor.call(request).unwrap();
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(r#"grpc_client_started_total{grpc_type="bidi_stream",grpc_service="helloworld.Greeter",grpc_method="Chat"} 1"#));
/// ```
#[derive(Debug, Clone)]
pub struct MetricsInterceptor {
    metrics: GrpcMetrics,
    fallback: Option<String>,
}

impl MetricsInterceptor {
    /// An interceptor counting into `metrics`.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// let _i = promenade_tonic::MetricsInterceptor::new(m);
    /// ```
    pub fn new(metrics: GrpcMetrics) -> Self {
        Self {
            metrics,
            fallback: None,
        }
    }

    /// The method path (`/pkg.Service/Method`) to count when the request does not say which
    /// method it is (server interceptors on single-method services).
    ///
    /// ```
    /// use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, GrpcType, Side}};
    /// use tonic::service::Interceptor as _;
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Server).method("/a.B/C", GrpcType::Unary).build().unwrap();
    /// let mut i = promenade_tonic::MetricsInterceptor::new(m).with_method("/a.B/C");
    /// i.call(tonic::Request::new(())).unwrap();
    /// assert!(r.encode_to_string(Format::Text).unwrap().contains(r#"grpc_server_started_total{grpc_type="unary",grpc_service="a.B",grpc_method="C"} 1"#));
    /// ```
    #[must_use]
    pub fn with_method(mut self, path: &str) -> Self {
        self.fallback = Some(path.to_owned());
        self
    }
}

impl Interceptor for MetricsInterceptor {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        match request.extensions().get::<GrpcMethod<'static>>() {
            Some(m) => {
                let path = format!("/{}/{}", m.service(), m.method());
                self.metrics.record_started(&path);
            }
            None => self
                .metrics
                .record_started(self.fallback.as_deref().unwrap_or("")),
        }
        Ok(request)
    }
}
