//! Method registration from an encoded `FileDescriptorSet`.

use promenade_core::Error;
use promenade_core::grpc_metrics::{GrpcMetricsBuilder, GrpcType};
use prost::Message as _;
use prost_types::FileDescriptorSet;

/// The methods of `grpc.health.v1.Health` (tonic-health), to register with
/// [`GrpcMetricsBuilder::service`].
///
/// ```
/// assert_eq!(promenade_tonic::HEALTH_SERVICE, "grpc.health.v1.Health");
/// ```
pub const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The (method, kind) pairs of [`HEALTH_SERVICE`] as served by tonic-health 0.14.
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
/// use promenade_tonic::{HEALTH_METHODS, HEALTH_SERVICE};
/// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
///     .service(HEALTH_SERVICE, HEALTH_METHODS).build().unwrap();
/// assert_eq!(m.grpc_type("/grpc.health.v1.Health/Watch"), Some(GrpcType::ServerStream));
/// ```
pub const HEALTH_METHODS: &[(&str, GrpcType)] = &[
    ("Check", GrpcType::Unary),
    ("Watch", GrpcType::ServerStream),
];

/// Every method of every service in an encoded `FileDescriptorSet` (the bytes you already
/// build for gRPC reflection), as (`/pkg.Service/Method`, kind) pairs.
///
/// ```
/// use prost::Message as _;
/// use prost_types::{FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto, ServiceDescriptorProto};
/// use promenade_core::grpc_metrics::GrpcType;
///
/// let fds = FileDescriptorSet { file: vec![FileDescriptorProto {
///     package: Some("chat".into()),
///     service: vec![ServiceDescriptorProto {
///         name: Some("Room".into()),
///         method: vec![MethodDescriptorProto {
///             name: Some("Talk".into()), client_streaming: Some(true), server_streaming: Some(true),
///             ..Default::default()
///         }],
///         ..Default::default()
///     }],
///     ..Default::default()
/// }]};
/// let methods = promenade_tonic::methods_from_file_descriptor_set(&fds.encode_to_vec()).unwrap();
/// assert_eq!(methods, vec![("/chat.Room/Talk".to_string(), GrpcType::BidiStream)]);
/// assert!(promenade_tonic::methods_from_file_descriptor_set(b"\xff\xff").is_err());
/// ```
pub fn methods_from_file_descriptor_set(encoded: &[u8]) -> Result<Vec<(String, GrpcType)>, Error> {
    let fds = FileDescriptorSet::decode(encoded)
        .map_err(|e| Error::InvalidConfig(format!("invalid FileDescriptorSet: {e}")))?;
    let mut out = Vec::new();
    for file in &fds.file {
        let package = file.package();
        for service in &file.service {
            for method in &service.method {
                let path = if package.is_empty() {
                    format!("/{}/{}", service.name(), method.name())
                } else {
                    format!("/{package}.{}/{}", service.name(), method.name())
                };
                out.push((
                    path,
                    GrpcType::from_streaming(method.client_streaming(), method.server_streaming()),
                ));
            }
        }
    }
    Ok(out)
}

/// Registers methods from descriptors on a [`GrpcMetricsBuilder`] in one line.
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
/// use promenade_tonic::GrpcMetricsBuilderExt as _;
///
/// // The encoded `FileDescriptorSet` of your protos, as tonic-prost-build writes it with
/// // `.file_descriptor_set_path(..)` (see `file_descriptor_set` for the whole recipe); here:
/// // helloworld.Greeter with SayHello and Chat.
/// // const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("greeter_descriptor");
/// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
/// let metrics = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
///     .file_descriptor_set(FILE_DESCRIPTOR_SET)
///     .unwrap()
///     .build()
///     .unwrap();
/// assert_eq!(metrics.method_count(), 2);
/// ```
pub trait GrpcMetricsBuilderExt: Sized {
    /// Registers every method in an encoded `FileDescriptorSet`, each with its exact
    /// `grpc_type`. Once methods are registered, calls to any other path are recorded on the
    /// `unknown` labels (no discovery; see
    /// [`GrpcMetricsBuilder`](promenade_core::grpc_metrics::GrpcMetricsBuilder#labels-of-calls)).
    ///
    /// # The descriptor recipe
    ///
    /// Have `tonic-prost-build` write the set next to the generated code, in `build.rs`:
    ///
    /// ```rust,ignore
    /// // build.rs
    /// fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    ///     tonic_prost_build::configure()
    ///         .file_descriptor_set_path(out_dir.join("greeter_descriptor.bin"))
    ///         .compile_protos(&["proto/greeter.proto"], &["proto"])?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// include it where the generated code is (the same bytes serve `tonic-reflection`):
    ///
    /// ```rust,ignore
    /// pub mod pb {
    ///     tonic::include_proto!("helloworld");
    ///     pub const FILE_DESCRIPTOR_SET: &[u8] =
    ///         tonic::include_file_descriptor_set!("greeter_descriptor");
    /// }
    /// ```
    ///
    /// and register it, once per set (calls chain), on each side:
    ///
    /// ```rust,ignore
    /// let metrics = GrpcMetrics::builder(&registry, Side::Server)
    ///     .file_descriptor_set(pb::FILE_DESCRIPTOR_SET)?
    ///     .file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)? // if you serve health
    ///     .build()?;
    /// ```
    ///
    /// With `protox` instead of `protoc` (`tonic_prost_build::configure().compile_fds(fds)`),
    /// write `fds.encode_to_vec()` to `OUT_DIR/greeter_descriptor.bin` yourself: `compile_fds`
    /// does not write the file.
    ///
    /// A crate that ships its descriptors, here tonic-health's:
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// use promenade_tonic::GrpcMetricsBuilderExt as _;
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET).unwrap()
    ///     .build().unwrap();
    /// assert_eq!(m.grpc_type("/grpc.health.v1.Health/Watch"), Some(GrpcType::ServerStream));
    /// ```
    ///
    /// A set of your own, inline:
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// use promenade_tonic::GrpcMetricsBuilderExt as _;
    /// # // helloworld.Greeter: SayHello (unary) and Chat (bidi streaming).
    /// # const FILE_DESCRIPTOR_SET: &[u8] = b"\x0aA\x0a\x10helloworld.proto\x12\x0ahelloworld2!\x0a\x07Greeter\x12\x0a\x0a\x08SayHello\x12\x0a\x0a\x04Chat(\x010\x01";
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .file_descriptor_set(FILE_DESCRIPTOR_SET).unwrap()
    ///     .build().unwrap();
    /// assert_eq!(m.grpc_type("/helloworld.Greeter/SayHello"), Some(GrpcType::Unary));
    /// assert_eq!(m.grpc_type("/helloworld.Greeter/Chat"), Some(GrpcType::BidiStream));
    /// ```
    fn file_descriptor_set(self, encoded: &[u8]) -> Result<Self, Error>;
}

impl GrpcMetricsBuilderExt for GrpcMetricsBuilder {
    fn file_descriptor_set(self, encoded: &[u8]) -> Result<Self, Error> {
        Ok(self.methods(methods_from_file_descriptor_set(encoded)?))
    }
}
