//! The server side: how [`ServerSide`] hands the request body to the service it wraps, and
//! the public names [`GrpcServerLayer`] and [`GrpcServerService`] (with what they record),
//! for `tonic::transport::Server::builder().layer(GrpcServerLayer::new(..))`.

use promenade_core::grpc_metrics::MsgCounter;

use crate::body::MsgCountingBody;
use crate::call::ServerSide;
use crate::call::sealed::WrapRequest;
use crate::layer::{GrpcMetricsLayer, GrpcMetricsService};
#[cfg(doc)]
use crate::{HEALTH_METHODS, HEALTH_SERVICE};

impl<B> WrapRequest<B> for ServerSide {
    type Body = MsgCountingBody<B>;

    fn wrap_request(body: B, counter: Option<MsgCounter>) -> MsgCountingBody<B> {
        MsgCountingBody::new(body, counter)
    }
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
/// Which labels calls get depends on the metrics: with methods registered (from your
/// descriptor set, see [`file_descriptor_set`](crate::GrpcMetricsBuilderExt::file_descriptor_set)),
/// exact ones, `unknown` for any other path; with none, methods are discovered once tonic
/// has routed them (`grpc_type="unknown"`): a head that is tonic's "no such service/method"
/// answer (trailers-only `grpc-status: 12` without a message) keeps the call on `unknown`,
/// as does a call that ends before its response head; at most
/// [`MAX_DISCOVERED_METHODS`](promenade_core::grpc_metrics::MAX_DISCOVERED_METHODS) are
/// discovered. A layer *inside* this one that answers calls before tonic routes them (an
/// authentication layer refusing every path, say) makes the paths it answers look routed:
/// register your methods to rule that out.
///
/// A complete server, here tonic-health's service (registered with [`HEALTH_SERVICE`] and
/// [`HEALTH_METHODS`]), and a client call to it:
///
/// ```
/// use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::{GrpcClientService, GrpcServerLayer, HEALTH_METHODS, HEALTH_SERVICE};
/// use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Server)
///     .service(HEALTH_SERVICE, HEALTH_METHODS)
///     .build()?;
/// let (_reporter, health) = tonic_health::server::health_reporter();
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// tokio::spawn(
///     tonic::transport::Server::builder()
///         .layer(GrpcServerLayer::new(metrics))
///         .add_service(health)
///         .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
/// );
///
/// // The client side, without registered methods: it labels calls by the paths it calls.
/// let client_metrics = GrpcMetrics::builder(&registry, Side::Client).build()?;
/// let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.connect().await?;
/// let mut client = HealthClient::new(GrpcClientService::new(channel, client_metrics));
/// client.check(HealthCheckRequest { service: String::new() }).await?;
///
/// let text = registry.encode_to_string(Format::Text)?;
/// assert!(text.contains(r#"grpc_server_handled_total{grpc_type="unary",grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="OK"} 1"#));
/// assert!(text.contains(r#"grpc_client_handled_total{grpc_type="unknown",grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="OK"} 1"#));
/// # Ok(()) }
/// ```
///
/// With your own services and their descriptor set:
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
pub type GrpcServerLayer = GrpcMetricsLayer<ServerSide>;

/// The service made by [`GrpcServerLayer`], or directly by [`GrpcServerService::new`]
/// (no `tower_layer::Layer` import needed), to wrap a service you serve yourself.
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::GrpcServerService;
/// let metrics = GrpcMetrics::builder(&Registry::new(), Side::Server).build().unwrap();
/// // Any tonic service, e.g. `GreeterServer::new(MyGreeter)`; here tonic's empty `Routes`.
/// let service = GrpcServerService::new(tonic::service::Routes::default(), metrics);
/// # drop(service);
/// ```
pub type GrpcServerService<S> = GrpcMetricsService<S, ServerSide>;
