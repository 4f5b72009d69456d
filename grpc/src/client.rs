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
/// Labels: with methods registered, exact ones (`unknown` for any other path); with none,
/// each well-formed path a call is made to is discovered when the call starts (the
/// client's own code chose it), with `grpc_type="unknown"`, at most
/// [`MAX_DISCOVERED_METHODS`](promenade_core::grpc_metrics::MAX_DISCOVERED_METHODS).
///
/// To wrap one channel, [`GrpcClientService::new`] needs no tower import; the layer is for
/// tower stacks (`ServiceBuilder::new().layer(GrpcClientLayer::new(metrics)).service(channel)`).
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::{GrpcClientLayer, GrpcMetricsBuilderExt as _};
///
/// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Client)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET)? // your protos' encoded FileDescriptorSet
///     .build()?;
/// let layer = GrpcClientLayer::new(metrics);
/// // In a tower stack: `ServiceBuilder::new().layer(layer).service(channel)`.
/// assert_eq!(layer.metrics().method_count(), 2);
/// # Ok(()) }
/// ```
pub type GrpcClientLayer = GrpcMetricsLayer<ClientSide>;

/// A tonic `Channel` (or any client service) that records the `grpc_client_*` metrics of
/// [`GrpcClientLayer`]: make one with [`GrpcClientService::new`] (no `tower_layer::Layer`
/// import needed) and hand it to a generated client as you would the channel.
///
/// ```
/// use promenade_core::{Registry, grpc_metrics::{GrpcMetrics, Side}};
/// use promenade_tonic::{GrpcClientService, GrpcMetricsBuilderExt as _};
///
/// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Client)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET)? // your protos' encoded FileDescriptorSet
///     .build()?;
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let channel = GrpcClientService::new(channel, metrics);
/// // A generated client takes it like a plain channel: `GreeterClient::new(channel)`, which
/// // wraps the generic client:
/// let mut client = tonic::client::Grpc::new(channel);
/// # let _ = &mut client;
/// # Ok(()) }
/// ```
pub type GrpcClientService<S> = GrpcMetricsService<S, ClientSide>;
