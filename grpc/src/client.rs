//! The client side: how [`ClientSide`] hands the request body to the channel it wraps, and
//! the public names [`GrpcClientLayer`] and [`GrpcClientService`] (with what they record),
//! around a tonic `Channel` (or any tower service taking `http::Request<tonic::body::Body>`).

use bytes::Bytes;
use promenade_core::grpc_metrics::MsgCounter;

use crate::body::MsgCountingBody;
use crate::call::ClientSide;
use crate::call::sealed::WrapRequest;
use crate::layer::{GrpcMetricsLayer, GrpcMetricsService};

impl<B> WrapRequest<B> for ClientSide
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Body = tonic::body::Body;

    fn wrap_request(body: B, counter: Option<MsgCounter>) -> tonic::body::Body {
        match counter {
            Some(counter) => tonic::body::Body::new(MsgCountingBody::new(body, Some(counter))),
            // Untracked: boxed as it is, so a body that already is tonic's is not boxed again.
            None => tonic::body::Body::new(body),
        }
    }
}

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
pub type GrpcClientLayer = GrpcMetricsLayer<ClientSide>;

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
pub type GrpcClientService<S> = GrpcMetricsService<S, ClientSide>;
