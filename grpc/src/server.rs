//! The server side: how [`ServerSide`] hands the request body to the service it wraps, and
//! the public names [`GrpcServerLayer`] and [`GrpcServerService`] (with what they record),
//! for `tonic::transport::Server::builder().layer(GrpcServerLayer::new(..))`.

use promenade_core::grpc_metrics::MsgCounter;

use crate::body::MsgCountingBody;
use crate::call::ServerSide;
use crate::call::sealed::WrapRequest;
use crate::layer::{GrpcMetricsLayer, GrpcMetricsService};

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
pub type GrpcServerService<S> = GrpcMetricsService<S, ServerSide>;
